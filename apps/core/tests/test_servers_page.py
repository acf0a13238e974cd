"""/servers/ shows the committed capability matrix, or says why it cannot."""

import json

import pytest

import serving.capabilities as capabilities
from serving.capabilities import load_matrix
from serving.registry import load_servers


def test_home_links_the_servers_page(client):
    assert 'href="/servers/"' in client.get("/").content.decode()


def test_every_server_and_capability_of_the_committed_matrix_is_shown(client):
    response = client.get("/servers/")
    assert response.status_code == 200
    page = response.content.decode()
    matrix = load_matrix()
    assert list(matrix.servers) == list(load_servers()), "one column per server"
    for name in matrix.servers:
        assert f"<th>{name}</th>" in page
    for row in matrix.capabilities.values():
        assert row.title.replace("'", "&#x27;") in page
    assert 'class="broken"' in page and 'class="unsupported"' in page


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist: run `make capabilities`"),
        ("{not json", "is not valid JSON"),
        (json.dumps({"servers": []}), "'capabilities' is a required property"),
    ],
)
def test_an_unusable_matrix_is_explained(
    client, tmp_path, monkeypatch, content, message
):
    path = tmp_path / "capabilities.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setattr(capabilities, "PUBLISHED_JSON", path)
    response = client.get("/servers/")
    assert response.status_code == 503
    assert message in response.content.decode().replace("&#x27;", "'")
    assert str(tmp_path) in response.content.decode()  # outside the repository
