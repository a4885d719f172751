"""Console commands: accounts and the daily tick."""
from datetime import date

from server.models import Hazard, User
from server.services import hazards


def test_users_create_and_set_password(app, db, client, world):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["users", "create", "zhangsan", "--role", "inspector", "--name", "张三",
                              "--password", "first-pass-1", "--area", "G-A1", "--enforcement-id", "330206109999"])
    assert out.exit_code == 0, out.output
    user = db.session.query(User).filter_by(username="zhangsan").one()
    assert user.role == "inspector" and [a.code for a in user.areas] == ["G-A1"]
    client.login("zhangsan", "first-pass-1")
    out = runner.invoke(args=["users", "set-password", "zhangsan", "--password", "second-pass-2"])
    assert out.exit_code == 0, out.output
    # the old session ends with the password change
    assert client.get("/api/v1/auth/me").status_code == 401
    client.login("zhangsan", "second-pass-2")


def test_users_create_refuses_bad_input_with_one_line(app, db, world):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["users", "create", "x1", "--role", "inspector", "--name", "无证",
                              "--password", "long-enough-1"])
    assert out.exit_code != 0
    assert "执法证号" in out.output and "Traceback" not in out.output
    out = runner.invoke(args=["users", "create", "x2", "--role", "admin", "--name", "短",
                              "--password", "short"])
    assert out.exit_code != 0 and "密码至少需要 8 位" in out.output


def test_tick_marks_hazards_overdue(app, db, world):
    inspector = world.users["inspector_a"]
    h = hazards.create_hazard(inspector, venue_id=world.venue_a.id, description="消防通道堆放杂物",
                              location="后门", correction_mode="deadline", deadline_days=3,
                              found_on=date(2026, 11, 2))
    hazards.transition(inspector, h.id, "notify")
    deadline = db.session.get(Hazard, h.id).deadline
    runner = app.test_cli_runner()
    out = runner.invoke(args=["tick", "--date", deadline.isoformat()])
    assert "0 项" in out.output
    out = runner.invoke(args=["tick", "--date", "2026-12-31"])
    assert out.exit_code == 0 and "1 项" in out.output
    db.session.expire_all()
    assert db.session.get(Hazard, h.id).state == "overdue"
