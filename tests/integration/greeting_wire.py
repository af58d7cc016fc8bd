"""The Greeting message of proto/hello.proto, hand-encoded: field 1 (message), a string.
The tests that use it need no generated code."""


def varint(n):
    """n as a protobuf base-128 varint."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_varint(data, i):
    """The varint at data[i:]: (value, index after it)."""
    value = shift = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def encode_greeting(text):
    data = text.encode()
    return b"\x0a" + varint(len(data)) + data


def decode_greeting(raw):
    """The message field of a binary Greeting (any other field is an error here; the last
    occurrence wins, as protobuf reads it)."""
    pos, text = 0, ""
    while pos < len(raw):
        assert raw[pos] == 0x0A, raw
        length, pos = read_varint(raw, pos + 1)
        text = raw[pos:pos + length].decode()
        pos += length
    return text
