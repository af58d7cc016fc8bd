"""The Greeting message of proto/hello.proto, hand-encoded: field 1 (message), a short
string. The tests that use it need no generated code."""


def encode_greeting(text):
    data = text.encode()
    assert len(data) < 128
    return b"\x0a" + bytes([len(data)]) + data


def decode_greeting(raw):
    return raw[2 : 2 + raw[1]].decode() if raw else ""
