"""service::handle<Tag> rejects mistakes when the program compiles, with a message that says
which: each snippet below is compiled on its own (syntax and templates only, nothing linked)
and must fail with its message; the control snippet must compile.

argv: the C++ compiler command and its flags, then '--', then the include directories."""
import concurrent.futures
import os
import subprocess
import sys
import tempfile
import unittest

sep = sys.argv.index('--')
COMPILER = sys.argv[1:sep]
INCLUDES = ['-I' + d for d in sys.argv[sep + 1:]]
del sys.argv[1:]

PRELUDE = '''
#include <coronet/rpc/service.hpp>
#include "bench.coronet.pb.h"
#include "hello.coronet.pb.h"
#include <google/protobuf/empty.pb.h>
namespace rpc = coronet::rpc;
using unary_fn = asio::awaitable<grpc::Status> (*)(rpc::context&, const Greeting&, Greeting&);
asio::awaitable<grpc::Status> unary(rpc::context&, const Greeting&, Greeting&);
asio::awaitable<grpc::Status> streaming(rpc::context&, const Greeting&, rpc::server_writer<Greeting>&);
asio::awaitable<grpc::Status> empty_in(rpc::context&, const google::protobuf::Empty&, Greeting&);
asio::awaitable<grpc::Status> empty_out(rpc::context&, const Greeting&, google::protobuf::Empty&);
void bind() {
  rpc::service<HelloWorld> hello;
'''


def compile_snippet(body):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'snippet.cpp')
        with open(path, 'w') as f:
            f.write(PRELUDE + body + '\n}\n')
        run = subprocess.run(COMPILER + INCLUDES + ['-fsyntax-only', path],
                             capture_output=True, text=True, timeout=300)
        return run.returncode, run.stderr


# (snippet, the message its compilation must fail with; None: must compile)
CASES = {
    'the_right_handler_compiles': ('hello.handle<hello_world::say_hello>(&unary);', None),
    'a_method_of_another_service': (
        'hello.handle<coronet::bench::v1::bench::unary>(&unary);',
        'the method belongs to another service'),
    'a_handler_of_another_kind': (
        'hello.handle<hello_world::say_hello>(&streaming);',
        "the handler's parameters are not of the method's kind"),
    'another_request_type': (
        'hello.handle<hello_world::say_hello>(&empty_in);',
        "the handler's request type is not the method's"),
    'another_response_type': (
        'hello.handle<hello_world::say_hello>(&empty_out);',
        "the handler's response type is not the method's"),
    'a_method_that_does_not_exist': (
        'hello.handle<hello_world::say_goodbye>(&unary);', 'say_goodbye'),
}


class HandleRejectsMistakes(unittest.TestCase):
    results = {}

    @classmethod
    def setUpClass(cls):
        # Each compilation takes seconds: all at once, on every core.
        with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
            futures = {name: pool.submit(compile_snippet, body) for name, (body, _) in CASES.items()}
            cls.results = {name: f.result() for name, f in futures.items()}


def make_test(name, message):
    def test(self):
        code, errors = self.results[name]
        if message is None:
            self.assertEqual(code, 0, errors)
        else:
            self.assertNotEqual(code, 0, 'compiled, but should not have')
            self.assertIn(message, errors)
    return test


for case, (_, expected) in CASES.items():
    setattr(HandleRejectsMistakes, 'test_' + case, make_test(case, expected))


if __name__ == '__main__':
    unittest.main()
