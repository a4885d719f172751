def test_login_me_logout(client, world):
    resp = client.login("inspector_a")
    me = client.get("/api/v1/auth/me").get_json()["user"]
    assert me["username"] == "inspector_a" and me["role"] == "inspector"
    assert [a["name"] for a in me["areas"]] == ["新碶第一网格"]
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


def test_two_clients_in_one_test_are_two_users(login):
    a, b = login("inspector_a"), login("supervisor_a")
    assert a.get("/api/v1/auth/me").get_json()["user"]["username"] == "inspector_a"
    assert b.get("/api/v1/auth/me").get_json()["user"]["username"] == "supervisor_a"
    assert a.get("/api/v1/auth/me").get_json()["user"]["username"] == "inspector_a"
