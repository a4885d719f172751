def test_login_me_logout(client, world):
    resp = client.login("inspector_a")
    me = client.get("/api/v1/auth/me").get_json()["user"]
    assert me["username"] == "inspector_a" and me["role"] == "inspector"
    assert [a["name"] for a in me["areas"]] == ["新碶第一网格"]
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401
