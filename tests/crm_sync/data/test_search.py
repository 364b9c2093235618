"""GET /api/v1/integrations/search: the same ranked results on SQLite and PostgreSQL (the suite runs
on both), indexed matching kept on every write path, and the failure paths."""

import pytest
from django.db import connection

from contacts.models import Contact
from core.searchtext import search_fold, search_terms
from crm_sync import search
from crm_sync.models import RemoteRecord
from crm_sync.search_index import search_index_install
from tests.crm_sync.data.conftest import remote

URL = "/api/v1/integrations/search"

# PostgreSQL reads a page three ways (crm_sync/search.py): a range of names starting with the
# query, a bounded walk in rank order, the GIN index when the walk comes back short. The walk's
# bound decides which run; these settings drive each on the small fixed data set (SQLite ranks
# every match whatever they are, so its results must come out the same).
WALKS = {
    "walk-covers-scope": (search.WALK_ROWS, search.WALK_ROWS_PER_RESULT),
    "walk-one-row": (1, 0),
    "walk-three-rows": (3, 0),
}


@pytest.fixture(params=list(WALKS))
def walk(request, monkeypatch):
    rows, per_result = WALKS[request.param]
    monkeypatch.setattr(search, "WALK_ROWS", rows)
    monkeypatch.setattr(search, "WALK_ROWS_PER_RESULT", per_result)
    return request.param


def names(body, source):
    return [row["name"] for row in body["results"][source]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("smi", {"local": ["Anna Smithers", "John Smith"], "brivity": ["Smith Jones"], "hubspot": []}),
        (
            "jo",
            {"local": ["John Smith", "José Álvarez"], "brivity": ["Johnny Cash", "Smith Jones"],
             "hubspot": ["John Appleseed"]},
        ),
        ("JOSE", {"local": ["José Álvarez"], "brivity": [], "hubspot": []}),
        ("álv", {"local": ["José Álvarez"], "brivity": [], "hubspot": []}),
        ("renee", {"local": [], "brivity": ["Renée Durand"], "hubspot": []}),
        ("gmail", {"local": ["José Álvarez"], "brivity": ["Smith Jones"], "hubspot": ["John Appleseed"]}),
        ("555 01", {"local": ["John Smith", "José Álvarez", "Zoë O'Brien"], "brivity": ["Johnny Cash"],
                    "hubspot": []}),
        ("john smith", {"local": ["John Smith"], "brivity": [], "hubspot": []}),
        ("o'brien", {"local": ["Zoë O'Brien"], "brivity": [], "hubspot": []}),
        ("globex", {"local": ["Anna Smithers"], "brivity": [], "hubspot": []}),
        ("xyzzy", {"local": [], "brivity": [], "hubspot": []}),
    ],
)  # fmt: skip
def test_contact_search_is_ranked_grouped_and_the_same_on_every_database(
    api_client, dataset, walk, query, expected
):
    response = api_client.get(URL, {"q": query, "type": "contact"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True and body["query"] == query and body["type"] == "contact"
    assert {source: names(body, source) for source in body["results"]} == expected
    assert body["total"] == sum(len(v) for v in expected.values())


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("smi", {"local": [], "brivity": ["Oak listing"], "hubspot": ["Smith renewal"]}),
        ("closed", {"local": [], "brivity": ["Maple Street sale"], "hubspot": []}),
        ("maple st", {"local": [], "brivity": ["Maple Street sale"], "hubspot": []}),
        ("contract", {"local": [], "brivity": [], "hubspot": ["Smith renewal"]}),
    ],
)
def test_deal_search_matches_name_stage_and_address(api_client, dataset, walk, query, expected):
    body = api_client.get(URL, {"q": query, "type": "deal"}).json()
    assert {source: names(body, source) for source in body["results"]} == expected


def test_search_pages_each_source(api_client, dataset, walk):
    first = api_client.get(URL, {"q": "jo", "limit": 1}).json()
    assert names(first, "local") == ["John Smith"] and names(first, "brivity") == ["Johnny Cash"]
    assert first["has_more"] == {"local": True, "brivity": True, "hubspot": False}
    second = api_client.get(URL, {"q": "jo", "limit": 1, "offset": 1}).json()
    assert names(second, "local") == ["José Álvarez"] and names(second, "brivity") == ["Smith Jones"]
    assert second["has_more"] == {"local": False, "brivity": False, "hubspot": False}


def test_search_of_one_source_and_record_links(api_client, dataset, brivity):
    body = api_client.get(URL, {"q": "renee", "source": "brivity"}).json()
    assert list(body["results"]) == ["brivity"]
    (row,) = body["results"]["brivity"]
    assert row["remote_id"] == "b3" and row["source"] == "brivity" and row["object_type"] == "contacts"
    by_id = api_client.get(URL, {"q": "renee", "source": str(brivity.pk)}).json()
    assert by_id["results"] == body["results"]


def test_search_never_shows_another_organizations_rows(api_client, dataset):
    body = api_client.get(URL, {"q": "john"}).json()
    everything = [row["name"] for rows in body["results"].values() for row in rows]
    assert "John Other" not in everything and "John Hidden" not in everything
    assert "John Smith" in everything


@pytest.mark.parametrize("query", ["", "a", " b ", None])
def test_query_under_two_characters_is_a_400_with_the_seed_message(api_client, dataset, query):
    params = {} if query is None else {"q": query}
    response = api_client.get(URL, params)
    assert response.status_code == 400
    assert response.json()["error"] == "Query must be at least 2 characters"
    assert response.json()["code"] == "query_too_short"


@pytest.mark.parametrize(
    ("params", "code", "status"),
    [
        ({"q": "--"}, "query_too_short", 400),
        ({"q": "jo", "type": "company"}, "invalid_type", 400),
        ({"q": "jo", "source": "nowhere"}, "invalid_source", 400),
        ({"q": "jo", "source": "mautic"}, "source_not_found", 404),
        ({"q": "jo", "limit": "0"}, "invalid_pagination", 400),
        ({"q": "jo", "offset": "-1"}, "invalid_pagination", 400),
    ],
)
def test_search_refuses_bad_input(api_client, dataset, params, code, status):
    response = api_client.get(URL, params)
    assert response.status_code == status
    assert response.json()["code"] == code


def test_another_organizations_source_is_a_404(api_client, dataset):
    response = api_client.get(URL, {"q": "john", "source": str(dataset["other_connection"].pk)})
    assert response.status_code == 404
    assert response.json()["code"] == "source_not_found"


def test_search_query_count_is_constant(api_client, dataset, django_assert_num_queries):
    api_client.get(URL, {"q": "jo"})  # warm the key's caches
    # usage bump (the key's row is cached), the sources, the local contacts, every source's records
    with django_assert_num_queries(4):
        response = api_client.get(URL, {"q": "jo"})
    assert response.status_code == 200


@pytest.mark.parametrize("sources", [1, 4])
def test_a_rare_word_costs_one_more_statement_per_table_whatever_the_sources(
    api_client, org, monkeypatch, django_assert_num_queries, sources
):
    """Walks that stop short send PostgreSQL to the GIN index: one more statement for the
    contacts and one for every source's records together, never one per source."""
    from tests.integrations.factories import CrmConnectionFactory

    for n in range(sources):
        kind = ["brivity", "hubspot", "mautic", "topproducer"][n]
        linked = CrmConnectionFactory(organization=org, kind=kind)
        remote(linked, "contacts", f"r{n}", {"first_name": "Quorra", "last_name": f"Flynn{n}"})
        remote(linked, "contacts", f"s{n}", {"first_name": "Alan", "last_name": "Bradley"})
    Contact.objects.create(organization=org, first_name="Alan", last_name="Quorra")
    Contact.objects.create(organization=org, first_name="Sam", last_name="Flynn")
    monkeypatch.setattr(search, "WALK_ROWS", 1)
    monkeypatch.setattr(search, "WALK_ROWS_PER_RESULT", 0)
    api_client.get(URL, {"q": "quorra"})
    extra = 2 if connection.vendor == "postgresql" else 0
    with django_assert_num_queries(4 + extra):
        body = api_client.get(URL, {"q": "quorra"}).json()
    assert body["total"] == 1 + sources
    assert names(body, "local") == ["Alan Quorra"]


def _reference(rows, terms):
    """Unified search's contract, computed in Python: every term starts a word; names starting
    with the query first; then the folded text in byte order; then id."""
    joined = " ".join(terms)
    hits = [r for r in rows if all(any(w.startswith(t) for w in r["text"].split()) for t in terms)]
    return sorted(hits, key=lambda r: (not r["text"].startswith(joined), r["text"].encode(), r["key"]))


@pytest.fixture
def crowd(org, brivity):
    """Enough look-alike rows that a page is a small part of the matches: names starting with the
    query, the query as a later word only, in emails, in phones; equal texts (ranked by id)."""
    people = [
        ("Sam", "Samson"), ("Samantha", "Lee"), ("Lee", "Sampson"), ("Sam", "Samson"), ("Al", "Samuels"),
        ("Sami", "Ali"), ("Bo", "Sam"), ("Samuel", "Jackson"), ("Ann", "Lee"), ("Zed", "Samira"),
        ("Sam", "Lee"), ("Lee", "Sam"), ("Éric", "Sámano"), ("Sa", "Mo"), ("Sammy", "Davis"),
    ]  # fmt: skip
    for n, (first, last) in enumerate(people):
        Contact.objects.create(
            organization=org, first_name=first, last_name=last, email=f"p{n}@sam{n % 3}.example",
            phone=f"555 01{n:02d}",
        )  # fmt: skip
        swapped = {"first_name": last, "last_name": first, "phone": f"555 02{n:02d}"}
        remote(brivity, "contacts", f"c{n}", swapped, email=f"q{n}@gmail.com", minutes=n)
        remote(brivity, "deals", f"d{n}", {"name": f"{first} {last} listing", "stage": "closed won",
                                           "address": f"{n} Samson St"}, minutes=n)  # fmt: skip


@pytest.mark.parametrize("query", ["sam", "sa", "lee sam", "555 01", "gmail", "samson st", "zzz"])
@pytest.mark.parametrize("limit", [1, 4, 100])
def test_every_page_is_the_contracts_ranking_on_every_database(
    api_client, org, brivity, crowd, walk, query, limit
):
    """Paged to the end, each source's pages join up to exactly the reference ranking, whatever
    way PostgreSQL read each page; has_more is true until the last page."""
    terms = search_terms(query)
    expected_local = _reference(
        [
            {"text": c.search_text, "key": str(c.pk), "name": c.full_name}
            for c in Contact.objects.filter(organization=org)
        ],
        terms,
    )
    records = RemoteRecord.objects.filter(connection=brivity)
    matched = len(expected_local)
    for type_, kind in (("contact", {"object_type": "contacts"}), ("deal", {"object_type": "deals"})):
        expected_remote = _reference(
            [{"text": r.search_text, "key": r.pk, "name": r.display_name} for r in records.filter(**kind)],
            terms,
        )
        got = {"local": [], "brivity": []}
        offset = 0
        while True:
            body = api_client.get(URL, {"q": query, "type": type_, "limit": limit, "offset": offset}).json()
            for source in got:
                got[source] += [(row["id"], row["name"]) for row in body["results"][source]]
                assert body["has_more"][source] == (len(
                    expected_local if source == "local" and type_ == "contact" else
                    expected_remote if source == "brivity" else []
                ) > offset + limit), (source, offset)  # fmt: skip
            assert body["total"] == sum(len(rows) for rows in body["results"].values())
            if not any(body["has_more"].values()):
                break
            offset += limit
        want_local = [(r["key"], r["name"]) for r in expected_local] if type_ == "contact" else []
        assert got["local"] == want_local
        assert got["brivity"] == [(r["key"], r["name"]) for r in expected_remote]
        matched += len(expected_remote)
    assert matched > 0 or query == "zzz"  # the reference found something to compare


def test_search_text_follows_every_write(api_client, org, brivity):
    created = api_client.post(
        "/api/v1/contacts/",
        {"first_name": "Émile", "last_name": "Zola", "email": "emile@example.fr"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert names(api_client.get(URL, {"q": "emile"}).json(), "local") == ["Émile Zola"]
    contact = Contact.objects.get(email="emile@example.fr")
    contact.last_name = "Verhaeren"
    contact.save(update_fields=["last_name"])
    assert names(api_client.get(URL, {"q": "zola"}).json(), "local") == []
    assert names(api_client.get(URL, {"q": "verh"}).json(), "local") == ["Émile Verhaeren"]
    contact.delete()
    assert names(api_client.get(URL, {"q": "emile"}).json(), "local") == []


def test_the_index_is_put_back_when_a_migration_drops_it(api_client, dataset):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite rebuilds tables (and drops their triggers) in migrations; PostgreSQL does not")
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER contacts_contact_fts_ai")
    assert search_index_install() == ["contacts_contact"]
    Contact.objects.create(organization=dataset["other_connection"].organization, first_name="Zed")
    assert search_index_install() == []


def test_fold_makes_the_same_words_for_both_databases():
    assert search_fold("José O'Brien <jose.obrien@Mail.example>") == "jose o brien jose obrien mail example"
    assert search_fold("Straße_12  (Zoë)") == "strasse 12 zoe"
    assert search_terms(" --Ál- ") == ["al"]


def test_search_reindex_command_refills_the_index(api_client, dataset):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("search_reindex", stdout=out)
    assert "Search index checked" in out.getvalue()
    assert names(api_client.get(URL, {"q": "renee"}).json(), "brivity") == ["Renée Durand"]
