from sqlalchemy import text

from b2bgateway.store import Store


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["database"] == "ok"


def test_healthz_is_503_when_the_database_is_unreachable(gateway, monkeypatch, client):
    def broken():
        raise OSError("connection refused")

    monkeypatch.setattr(gateway.store, "ping", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable"}


def test_healthz_is_503_before_migrations(tmp_path, settings, plugins):
    from b2bgateway.gateway import Gateway
    from b2bgateway_web import create_app

    empty = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    app = create_app(gateway=Gateway.build(settings, plugins, empty))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["schema"] is None
    empty.dispose()


def test_unknown_routes_are_problem_json(client):
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["status"] == 404
    assert body["code"] == "not_found"
    assert set(body) >= {"type", "title", "status", "detail", "code"}


def test_unexpected_errors_are_a_bare_500(app, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals sk_live_123")

    app.testing = False  # let the error handler answer, as in production
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert "sk_live_123" not in response.get_data(as_text=True)
    assert response.json["code"] == "internal_error"


def test_gateway_errors_keep_their_code_and_extras(app, client):
    from b2bgateway.errors import NotPayable

    @app.get("/nope")
    def nope():
        raise NotPayable("not payable", ["within_credit_limit"], credit_limit="1000.00")

    response = client.get("/nope")
    assert response.status_code == 422
    assert response.json["code"] == "not_payable"
    assert response.json["reasons"] == ["within_credit_limit"]
    assert response.json["credit_limit"] == "1000.00"


def test_the_app_uses_the_store_it_was_given(gateway, store):
    with store.read() as session:
        assert session.execute(text("SELECT 1")).scalar() == 1
    assert gateway.store is store
