"""A foreign client for coronet's gRPC server: grpcio with hand-written protobuf encoding.

Usage: python_client.py PORT. Calls SayHello (unary), Bench/ServerStream (server streaming),
the standard health check and server reflection; exits 0 and prints "ok" when all agree.
"""
import sys

import grpc


def encode_greeting(text):
    data = text.encode()
    # field 1, wire type 2 (length-delimited); varint length (messages here are short)
    assert len(data) < 128
    return b"\x0a" + bytes([len(data)]) + data


def decode_greeting(raw):
    if not raw:
        return ""
    assert raw[0] == 0x0A, raw
    return raw[2 : 2 + raw[1]].decode()


def main():
    channel = grpc.insecure_channel("127.0.0.1:" + sys.argv[1])
    grpc.channel_ready_future(channel).result(timeout=10)

    say_hello = channel.unary_unary(
        "/HelloWorld/SayHello",
        request_serializer=encode_greeting,
        response_deserializer=decode_greeting,
    )
    reply = say_hello("python", timeout=10)
    assert reply == "hello python", reply

    stream = channel.unary_stream(
        "/coronet.bench.v1.Bench/ServerStream",
        request_serializer=encode_greeting,
        response_deserializer=decode_greeting,
    )
    got = list(stream("5", timeout=10))
    assert got == ["0", "1", "2", "3", "4"], got

    try:
        channel.unary_unary("/HelloWorld/NoSuchMethod")(b"", timeout=10)
        raise AssertionError("unknown method answered")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNIMPLEMENTED, e.code()

    # grpc.health.v1.Health/Check with an empty request; status 1 is SERVING.
    health = channel.unary_unary("/grpc.health.v1.Health/Check")
    assert health(b"", timeout=10) == b"\x08\x01"

    # Reflection: list_services (field 7, empty string) names both services.
    reflection = channel.stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
    )
    answers = b"".join(reflection(iter([b"\x3a\x00"]), timeout=10))
    assert b"HelloWorld" in answers and b"coronet.bench.v1.Bench" in answers, answers

    print("ok")


if __name__ == "__main__":
    main()
