def test_api_root_needs_a_key(anon_client, db):
    response = anon_client.get("/api/v1/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_api_root_answers_with_a_key(api_client):
    assert api_client.get("/api/v1/").status_code == 200
