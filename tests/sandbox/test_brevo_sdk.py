"""Brevo's official SDK (brevo-python 5.x) against the Brevo sandbox over real HTTP.

Every call the connector makes (integrations/connectors/brevo/client.py) and the common
calls of a user's script. Each answer must deserialize in the SDK, validate strictly against
the SDK's own pydantic model (the SDK itself builds its objects without validating), and match
Brevo's OpenAPI spec when the spec file is present (brevo_spec).
"""

import httpx
import pytest
from brevo import Brevo
from brevo.account import GetAccountResponse
from brevo.contacts import (
    AddContactToListRequestBodyEmails,
    AddContactToListRequestBodyExtIds,
    AddContactToListRequestBodyIds,
    CreateAttributeRequestEnumerationItem,
    CreateContactResponse,
    CreateFolderResponse,
    CreateListResponse,
    GetAttributesResponse,
    GetContactInfoResponse,
    GetFolderListsResponse,
    GetFoldersResponse,
    GetListResponse,
    GetListsResponse,
    ImportContactsRequestJsonBodyItem,
    ImportContactsRequestNewList,
    ImportContactsResponse,
    RemoveContactFromListRequestBodyAll,
    RemoveContactFromListRequestBodyEmails,
    RemoveContactFromListRequestBodyIds,
    UpdateAttributeRequestEnumerationItem,
    UpdateBatchContactsRequestContactsItem,
)
from brevo.core.api_error import ApiError
from brevo.errors import BadRequestError, NotFoundError
from brevo.process import GetProcessResponse
from brevo.types import GetContacts, GetFolder, PostContactInfo

from sandbox import credentials
from sandbox.config import config_update

from .brevo_spec import assert_matches, assert_response_matches, spec_available

pytestmark = pytest.mark.django_db(transaction=True)
CONTACT = "/contacts/{identifier}"
ATTRIBUTE = "/contacts/attributes/{attributeCategory}/{attributeName}"
LIST = "/contacts/lists/{listId}"
FOLDER = "/contacts/folders/{folderId}"


@pytest.fixture
def http():
    """The SDK's HTTP client, closed at the end so no keep-alive connection outlives the test."""
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def sdk(live_server, http):
    config_update(kind="brevo", changes={"rate_limit_enabled": False})
    return Brevo(
        api_key=credentials.BREVO_API_KEY,
        base_url=f"{live_server.url}/sandbox/brevo/v3",
        max_retries=0,
        httpx_client=http,
    )


def ok(raw, spec_path: str, method: str, model=None):
    """The SDK call's data, once its raw answer matched the spec and (strictly) the SDK's model."""
    if spec_available():
        assert_response_matches(spec_path, method, raw.response)
    if model is not None:
        model.model_validate(raw.response.json())
    return raw.data


def refused(call, spec_path: str, method: str, status: int, error=ApiError) -> dict:
    """The SDK call raises `error` with `status`; its body matches the spec. Returns the body."""
    with pytest.raises(error) as info:
        call()
    assert info.value.status_code == status
    if spec_available():
        assert_matches(spec_path, method, status, info.value.body)
    return info.value.body


def test_the_connectors_calls(sdk):
    """GET /account, attributes list/create/update, contact upsert and read, list, import, process."""
    contacts = sdk.contacts.with_raw_response
    account = ok(sdk.account.with_raw_response.get_account(), "/account", "get", GetAccountResponse)
    assert account.email and account.plan

    ok(contacts.create_attribute("normal", "COMPANY", type="text"), ATTRIBUTE, "post")
    gold = CreateAttributeRequestEnumerationItem(label="Gold", value=1)
    ok(contacts.create_attribute("category", "TIER", enumeration=[gold]), ATTRIBUTE, "post")
    silver = UpdateAttributeRequestEnumerationItem(label="Silver", value=2)
    ok(contacts.update_attribute("category", "TIER", enumeration=[gold, silver]), ATTRIBUTE, "put")
    ok(contacts.create_attribute("normal", "SCRATCH", type="float"), ATTRIBUTE, "post")
    ok(contacts.delete_attribute("normal", "SCRATCH"), ATTRIBUTE, "delete")
    refused(
        lambda: sdk.contacts.delete_attribute("normal", "SCRATCH"), ATTRIBUTE, "delete", 404, NotFoundError
    )
    duplicate = refused(
        lambda: sdk.contacts.create_attribute("normal", "COMPANY", type="text"),
        ATTRIBUTE,
        "post",
        400,
        BadRequestError,
    )
    assert duplicate["code"] == "invalid_parameter"
    attributes = ok(contacts.get_attributes(), "/contacts/attributes", "get", GetAttributesResponse)
    by_name = {a.name: a for a in attributes.attributes}
    assert by_name["COMPANY"].type == "text" and [e.label for e in by_name["TIER"].enumeration] == [
        "Gold",
        "Silver",
    ]

    body = {"email": "ada@example.com", "attributes": {"FIRSTNAME": "Ada", "COMPANY": "Acme"}}
    created = ok(
        contacts.create_contact(**body, update_enabled=True), "/contacts", "post", CreateContactResponse
    )
    updated = ok(
        contacts.create_contact(email="ada@example.com", attributes={"LASTNAME": "L"}, update_enabled=True),
        "/contacts",
        "post",
    )
    assert updated is None  # 204: updated, no id
    read = ok(contacts.get_contact_info("ada@example.com"), CONTACT, "get", GetContactInfoResponse)
    assert read.id == created.id and dict(read.attributes) == {
        "FIRSTNAME": "Ada",
        "COMPANY": "Acme",
        "LASTNAME": "L",
    }

    page = ok(
        contacts.get_contacts(modified_since="2020-01-01T00:00:00.000Z", sort="asc", limit=1000, offset=0),
        "/contacts",
        "get",
        GetContacts,
    )
    assert page.count == 1 and page.contacts[0].email == "ada@example.com"

    imported = ok(
        contacts.import_contacts(
            json_body=[
                ImportContactsRequestJsonBodyItem(email="bob@example.com", attributes={"FIRSTNAME": "Bob"})
            ],
            list_ids=[2],
            update_existing_contacts=True,
            empty_contacts_attributes=False,
        ),
        "/contacts/import",
        "post",
        ImportContactsResponse,
    )
    process = ok(
        sdk.process.with_raw_response.get_process(imported.process_id),
        "/processes/{processId}",
        "get",
        GetProcessResponse,
    )
    assert process.status == "completed" and process.name == "IMPORTUSER"
    assert sdk.contacts.get_contact_info("bob@example.com").list_ids == [2]


def test_a_wrong_key_and_a_missing_process(sdk, live_server, http):
    base_url = f"{live_server.url}/sandbox/brevo/v3"
    stranger = Brevo(api_key="xkeysib-wrong", base_url=base_url, max_retries=0, httpx_client=http)
    with pytest.raises(ApiError) as info:
        stranger.account.get_account()
    assert info.value.status_code == 401
    assert info.value.body == {"code": "unauthorized", "message": "Key not found"}
    refused(lambda: sdk.process.get_process(987654), "/processes/{processId}", "get", 404)


def test_a_users_contact_script(sdk):
    contacts = sdk.contacts.with_raw_response
    ann = ok(
        contacts.create_contact(email="ann@example.com", attributes={"FIRSTNAME": "Ann"}, ext_id="crm-1"),
        "/contacts",
        "post",
        CreateContactResponse,
    ).id
    duplicate = refused(
        lambda: sdk.contacts.create_contact(email="ann@example.com"),
        "/contacts",
        "post",
        400,
        BadRequestError,
    )
    assert duplicate["metadata"] == {"duplicate_identifiers": ["email"]}
    refused(lambda: sdk.contacts.create_contact(email="nope"), "/contacts", "post", 400, BadRequestError)

    assert (
        ok(contacts.get_contact_info(ann), CONTACT, "get", GetContactInfoResponse).email == "ann@example.com"
    )
    by_ext = ok(
        contacts.get_contact_info("crm-1", identifier_type="ext_id"), CONTACT, "get", GetContactInfoResponse
    )
    assert by_ext.id == ann
    refused(lambda: sdk.contacts.get_contact_info("ghost@example.com"), CONTACT, "get", 404, NotFoundError)

    ok(
        contacts.update_contact(
            "ann@example.com",
            attributes={"EMAIL": "anne@example.com", "LASTNAME": "Lee"},
            list_ids=[4, 5],
            email_blacklisted=True,
        ),
        CONTACT,
        "put",
    )
    ok(contacts.update_contact(ann, unlink_list_ids=[4]), CONTACT, "put")
    anne = sdk.contacts.get_contact_info("anne@example.com")
    assert dict(anne.attributes) == {"FIRSTNAME": "Ann", "LASTNAME": "Lee"}
    assert anne.list_ids == [5] and anne.email_blacklisted is True
    refused(
        lambda: sdk.contacts.update_contact("ghost@example.com", attributes={"LASTNAME": "x"}),
        CONTACT,
        "put",
        404,
        NotFoundError,
    )
    refused(
        lambda: sdk.contacts.update_contact(ann, attributes={"SHOE": 42}),
        CONTACT,
        "put",
        400,
        BadRequestError,
    )

    for n in range(4):
        sdk.contacts.create_contact(email=f"p{n}@example.com")
    first = ok(contacts.get_contacts(limit=2, offset=0, sort="asc"), "/contacts", "get", GetContacts)
    second = ok(contacts.get_contacts(limit=2, offset=2, sort="asc"), "/contacts", "get", GetContacts)
    emails = [c.email for c in first.contacts + second.contacts]
    assert first.count == 5 and emails == [
        "anne@example.com",
        "p0@example.com",
        "p1@example.com",
        "p2@example.com",
    ]
    newest = sdk.contacts.get_contacts(limit=1)
    assert newest.contacts[0].email == "p3@example.com"
    in_lists = ok(contacts.get_contacts(list_ids=[5, 9], sort="asc"), "/contacts", "get", GetContacts)
    assert [c.email for c in in_lists.contacts] == ["anne@example.com"]
    future = sdk.contacts.get_contacts(modified_since="2999-01-01T00:00:00.000Z")
    assert future.count == 0 and future.contacts == []
    bad = refused(lambda: sdk.contacts.get_contacts(limit=1001), "/contacts", "get", 400, BadRequestError)
    assert bad["code"] == "out_of_range"

    ok(
        contacts.update_batch_contacts(
            contacts=[
                UpdateBatchContactsRequestContactsItem(id=ann, attributes={"FIRSTNAME": "Annie"}),
                UpdateBatchContactsRequestContactsItem(
                    email="p0@example.com", listIds=[9], smsBlacklisted=True
                ),
            ]
        ),
        "/contacts/batch",
        "post",
    )
    assert dict(sdk.contacts.get_contact_info(ann).attributes)["FIRSTNAME"] == "Annie"
    p0 = sdk.contacts.get_contact_info("p0@example.com")
    assert p0.list_ids == [9] and p0.sms_blacklisted is True
    missing = refused(
        lambda: sdk.contacts.update_batch_contacts(
            contacts=[UpdateBatchContactsRequestContactsItem(email="ghost@example.com")]
        ),
        "/contacts/batch",
        "post",
        404,
    )
    assert missing == {"code": "document_not_found", "message": "No contact found for indexes 0"}
    refused(
        lambda: sdk.contacts.update_batch_contacts(
            contacts=[UpdateBatchContactsRequestContactsItem(email="p0@example.com", id=ann)]
        ),
        "/contacts/batch",
        "post",
        400,
        BadRequestError,
    )

    ok(contacts.delete_contact(ann), CONTACT, "delete")
    refused(lambda: sdk.contacts.delete_contact(ann), CONTACT, "delete", 404, NotFoundError)


def test_a_users_lists_and_folders_script(sdk):
    contacts = sdk.contacts.with_raw_response
    folder = ok(contacts.create_folder(name="Shop"), "/contacts/folders", "post", CreateFolderResponse).id
    other = sdk.contacts.create_folder(name="Other").id
    folders = ok(
        contacts.get_folders(limit=10, offset=0, sort="asc"), "/contacts/folders", "get", GetFoldersResponse
    )
    assert folders.count == 2 and [f.id for f in folders.folders] == [folder, other]
    ok(contacts.update_folder(folder, name="Shop FR"), FOLDER, "put")
    assert ok(contacts.get_folder(folder), FOLDER, "get", GetFolder).name == "Shop FR"

    buyers = ok(
        contacts.create_list(name="Buyers", folder_id=folder), "/contacts/lists", "post", CreateListResponse
    ).id
    vip = sdk.contacts.create_list(name="VIP", folder_id=folder).id
    refused(
        lambda: sdk.contacts.create_list(name="Lost", folder_id=987654),
        "/contacts/lists",
        "post",
        400,
        BadRequestError,
    )
    lists = ok(contacts.get_lists(limit=50), "/contacts/lists", "get", GetListsResponse)
    assert lists.count == 2 and [item.id for item in lists.lists] == [vip, buyers]
    ok(contacts.update_list(vip, name="VIPs"), LIST, "put")
    ok(contacts.update_list(vip, folder_id=other), LIST, "put")
    detail = ok(contacts.get_list(vip), LIST, "get", GetListResponse)
    assert (detail.name, detail.folder_id, detail.unique_subscribers) == ("VIPs", other, 0)
    refused(lambda: sdk.contacts.get_list(987654), LIST, "get", 404, NotFoundError)

    ann = sdk.contacts.create_contact(email="ann@example.com").id
    sdk.contacts.create_contact(email="bob@example.com", ext_id="crm-b", email_blacklisted=True)
    add = "/contacts/lists/{listId}/contacts/add"
    by_email = AddContactToListRequestBodyEmails(emails=["ann@example.com", "ghost@example.com"])
    added = ok(contacts.add_contact_to_list(buyers, request=by_email), add, "post", PostContactInfo)
    assert added.contacts.success == ["ann@example.com"] and added.contacts.failure == ["ghost@example.com"]
    by_ext = ok(
        contacts.add_contact_to_list(buyers, request=AddContactToListRequestBodyExtIds(extIds=["crm-b"])),
        add,
        "post",
        PostContactInfo,
    )
    assert by_ext.contacts.success == ["crm-b"] and by_ext.contacts.failure is None
    ok(contacts.add_contact_to_list(vip, request=AddContactToListRequestBodyIds(ids=[ann])), add, "post")
    refused(
        lambda: sdk.contacts.add_contact_to_list(987654, request=AddContactToListRequestBodyIds(ids=[ann])),
        add,
        "post",
        404,
        NotFoundError,
    )

    members = ok(
        contacts.get_contacts_from_list(buyers, limit=500, sort="asc"),
        "/contacts/lists/{listId}/contacts",
        "get",
        GetContacts,
    )
    assert members.count == 2 and [c.email for c in members.contacts] == [
        "ann@example.com",
        "bob@example.com",
    ]
    counted = sdk.contacts.get_list(buyers)
    assert (counted.unique_subscribers, counted.total_subscribers, counted.total_blacklisted) == (2, 1, 1)
    shop = sdk.contacts.get_folder(folder)
    assert (shop.unique_subscribers, shop.total_blacklisted) == (2, 1)
    folder_lists = ok(
        contacts.get_folder_lists(folder), "/contacts/folders/{folderId}/lists", "get", GetFolderListsResponse
    )
    assert [item.id for item in folder_lists.lists] == [buyers]

    remove = "/contacts/lists/{listId}/contacts/remove"
    by_email = RemoveContactFromListRequestBodyEmails(emails=["bob@example.com"])
    removed = ok(contacts.remove_contact_from_list(buyers, request=by_email), remove, "post", PostContactInfo)
    assert removed.contacts.success == ["bob@example.com"]
    by_id = RemoveContactFromListRequestBodyIds(ids=[ann])
    assert sdk.contacts.remove_contact_from_list(vip, request=by_id).contacts.success == [ann]
    everyone = ok(
        contacts.remove_contact_from_list(buyers, request=RemoveContactFromListRequestBodyAll(all_=True)),
        remove,
        "post",
        PostContactInfo,
    )
    assert everyone.contacts.total == 1 and everyone.contacts.process_id
    assert sdk.contacts.get_contacts_from_list(buyers).count == 0

    ok(contacts.delete_list(vip), LIST, "delete")
    refused(lambda: sdk.contacts.delete_list(vip), LIST, "delete", 404, NotFoundError)
    ok(contacts.delete_folder(folder), FOLDER, "delete")
    refused(lambda: sdk.contacts.get_folder(folder), FOLDER, "get", 404, NotFoundError)
    assert sdk.contacts.get_lists().count == 0


def test_a_users_import_script(sdk):
    contacts = sdk.contacts.with_raw_response
    folder = sdk.contacts.create_folder(name="Imports").id
    imported = ok(
        contacts.import_contacts(
            file_body="EMAIL;FIRSTNAME;LASTNAME\ncsv@example.com;Cee;Ess",
            new_list=ImportContactsRequestNewList(listName="From CSV", folderId=folder),
            sms_blacklist=True,
        ),
        "/contacts/import",
        "post",
        ImportContactsResponse,
    )
    assert sdk.process.get_process(imported.process_id).status == "completed"
    new_list = sdk.contacts.get_folder_lists(folder).lists[0]
    assert new_list.name == "From CSV" and new_list.unique_subscribers == 1
    csv = sdk.contacts.get_contact_info("csv@example.com")
    assert dict(csv.attributes) == {"FIRSTNAME": "Cee", "LASTNAME": "Ess"} and csv.sms_blacklisted is True
    assert csv.list_ids == [new_list.id]

    refused(
        lambda: sdk.contacts.import_contacts(list_ids=[2]), "/contacts/import", "post", 400, BadRequestError
    )
    refused(
        lambda: sdk.contacts.import_contacts(file_url="https://example.com/contacts.csv", list_ids=[2]),
        "/contacts/import",
        "post",
        400,
        BadRequestError,
    )
    refused(
        lambda: sdk.contacts.import_contacts(
            json_body=[ImportContactsRequestJsonBodyItem(email="x@example.com")],
            new_list=ImportContactsRequestNewList(listName="No folder"),
        ),
        "/contacts/import",
        "post",
        400,
        BadRequestError,
    )
