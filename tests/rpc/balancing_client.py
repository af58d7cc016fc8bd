"""python3-grpcio balancing its calls over coronet servers with gRPC's round_robin policy.

Usage: balancing_client.py TARGET COUNT, TARGET an address list ("ipv4:127.0.0.1:1,...").
Each server answers SayHello with its index. Calls until every server has answered (the
policy connects to them one by one), then makes COUNT calls and prints how many each server
answered, space separated, in the order of the list; exits non-zero on any failed call.
"""
import json
import sys

import grpc


# Greeting (proto/hello.proto) by hand: field 1, a short string; no generated code needed.
def encode_greeting(text):
    data = text.encode()
    return b"\x0a" + bytes([len(data)]) + data


def decode_greeting(raw):
    return raw[2 : 2 + raw[1]].decode() if raw else ""


def main():
    target, count = sys.argv[1], int(sys.argv[2])
    servers = len(target.split(","))
    config = {"loadBalancingConfig": [{"round_robin": {}}]}
    channel = grpc.insecure_channel(target, options=[("grpc.service_config", json.dumps(config))])
    say_hello = channel.unary_unary(
        "/HelloWorld/SayHello",
        request_serializer=encode_greeting,
        response_deserializer=decode_greeting,
    )
    seen = set()
    for _ in range(200):
        seen.add(say_hello("hi", timeout=5))
        if len(seen) == servers:
            break
    assert len(seen) == servers, "reached only servers %s" % sorted(seen)

    answered = [0] * servers
    for _ in range(count):
        answered[int(say_hello("hi", timeout=5))] += 1
    print(" ".join(str(n) for n in answered))


if __name__ == "__main__":
    main()
