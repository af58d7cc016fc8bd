"""python3-grpcio against a coronet Bench service behind two middlewares: one adding
metadata (x-served-by first, x-method last), one refusing calls without
"authorization: Bearer secret".

Usage: middleware_client.py PORT. Prints "ok" and exits 0 when every answer is as expected.
"""
import os
import sys

import grpc

# The Greeting wire helpers the integration tests use (field 1, a short string).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from greeting_wire import decode_greeting, encode_greeting  # noqa: E402


def main():
    channel = grpc.insecure_channel("127.0.0.1:" + sys.argv[1])
    grpc.channel_ready_future(channel).result(timeout=10)
    unary = channel.unary_unary(
        "/coronet.bench.v1.Bench/Unary",
        request_serializer=encode_greeting,
        response_deserializer=decode_greeting,
    )
    token = [("authorization", "Bearer secret")]

    try:
        unary("hi", timeout=10)
        raise AssertionError("a call without a token was answered")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e.code()
        assert e.details() == "missing or wrong token", e.details()

    reply, call = unary.with_call("hi", metadata=token, timeout=10)
    assert reply == "hi", reply
    assert ("x-served-by", "coronet") in call.initial_metadata(), call.initial_metadata()
    assert ("x-method", "/coronet.bench.v1.Bench/Unary") in call.trailing_metadata()

    stream = channel.unary_stream(
        "/coronet.bench.v1.Bench/ServerStream",
        request_serializer=encode_greeting,
        response_deserializer=decode_greeting,
    )
    got = list(stream("3", metadata=token, timeout=10))
    assert got == ["0", "1", "2"], got

    try:
        unary("throw", metadata=token, timeout=10)
        raise AssertionError("a throwing handler answered")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNKNOWN, e.code()

    print("ok")


if __name__ == "__main__":
    main()
