// The method tags protoc-gen-coronet generates: the types, kinds, positions, names and paths
// that service::handle<Tag> and the Connect protocol rely on, checked against what protoc
// and grpc_cpp_plugin made of the same .proto files (their descriptors and service classes).
#include <coronet/rpc/method.hpp>

#include "bench.coronet.pb.h"
#include "hello.coronet.pb.h"
#include "naming.coronet.pb.h"

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace {

using coronet::rpc::method_kind;
using coronet::rpc::method_tag;
namespace bench = coronet::bench::v1::bench;
namespace gateway = coronet::test::v1::http_gateway;
namespace naming = coronet::test::v1;

// hello.proto ----------------------------------------------------------------------------
static_assert(method_tag<hello_world::say_hello>);
static_assert(std::is_same_v<hello_world::say_hello::service, ::HelloWorld>);
static_assert(std::is_same_v<hello_world::say_hello::request, ::Greeting>);
static_assert(std::is_same_v<hello_world::say_hello::response, ::Greeting>);
static_assert(hello_world::say_hello::kind == method_kind::unary);
static_assert(hello_world::say_hello::index == 0);
static_assert(hello_world::say_hello::name == "SayHello");
static_assert(hello_world::say_hello::path == "/HelloWorld/SayHello");
static_assert(!hello_world::say_hello::no_side_effects);
static_assert(std::is_same_v<hello_world::methods, std::tuple<hello_world::say_hello>>);

// bench.proto: every kind, over hello.proto's Greeting, which it imports ----------------
static_assert(std::tuple_size_v<bench::methods> == 5);
static_assert(std::is_same_v<bench::methods, std::tuple<bench::unary, bench::server_stream,
                                                        bench::client_stream, bench::bidi,
                                                        bench::lookup>>);
static_assert(bench::unary::kind == method_kind::unary);
static_assert(bench::server_stream::kind == method_kind::server_streaming);
static_assert(bench::client_stream::kind == method_kind::client_streaming);
static_assert(bench::bidi::kind == method_kind::bidi);
static_assert(bench::lookup::kind == method_kind::unary);
static_assert(bench::lookup::path == "/coronet.bench.v1.Bench/Lookup");
static_assert(bench::server_stream::name == "ServerStream");

template <class Tuple, class F>
void for_each_tag(F f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (f(std::tuple_element_t<I, Tuple>{}, static_cast<int>(I)), ...);
  }(std::make_index_sequence<std::tuple_size_v<Tuple>>{});
}

// What every tag of a service must agree on with protoc's descriptor of that service and
// with its own position in `methods`.
template <class Methods>
void expect_tags_match_descriptor(const std::string& service_name) {
  const auto* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service_name);
  ASSERT_NE(service, nullptr) << service_name;
  EXPECT_EQ(service->method_count(), static_cast<int>(std::tuple_size_v<Methods>));
  for_each_tag<Methods>([&]<class Tag>(Tag, int position) {
    static_assert(method_tag<Tag>);
    SCOPED_TRACE(std::string(Tag::name));
    EXPECT_EQ(Tag::index, position);
    ASSERT_LT(Tag::index, service->method_count());
    const auto* method = service->method(Tag::index);
    EXPECT_EQ(Tag::name, method->name());
    EXPECT_EQ(Tag::path, "/" + service->full_name() + "/" + method->name());
    EXPECT_EQ(Tag::request::descriptor(), method->input_type());
    EXPECT_EQ(Tag::response::descriptor(), method->output_type());
    EXPECT_EQ(Tag::kind == method_kind::client_streaming || Tag::kind == method_kind::bidi,
              method->client_streaming());
    EXPECT_EQ(Tag::kind == method_kind::server_streaming || Tag::kind == method_kind::bidi,
              method->server_streaming());
    EXPECT_EQ(Tag::no_side_effects,
              method->options().idempotency_level() ==
                  google::protobuf::MethodOptions::NO_SIDE_EFFECTS);
    EXPECT_EQ(Tag::service::service_full_name(), service->full_name());
  });
}

TEST(method_tags, hello_world_tags_match_the_service_descriptor) {
  expect_tags_match_descriptor<hello_world::methods>("HelloWorld");
  // The service descriptor Greeting's file declares is the one the tag names.
  const auto* file = ::Greeting::descriptor()->file();
  ASSERT_EQ(file->service_count(), 1);
  EXPECT_EQ(file->service(0)->method(hello_world::say_hello::index)->name(),
            hello_world::say_hello::name);
}

TEST(method_tags, bench_tags_match_the_service_descriptor) {
  expect_tags_match_descriptor<bench::methods>("coronet.bench.v1.Bench");
  for_each_tag<bench::methods>([]<class Tag>(Tag, int) {
    static_assert(std::is_same_v<typename Tag::service, coronet::bench::v1::Bench>);
    static_assert(std::is_same_v<typename Tag::request, ::Greeting>);
    static_assert(std::is_same_v<typename Tag::response, ::Greeting>);
  });
}

TEST(method_tags, only_lookup_has_no_side_effects) {
  for_each_tag<bench::methods>([]<class Tag>(Tag, int) {
    EXPECT_EQ(Tag::no_side_effects, Tag::name == "Lookup") << Tag::name;
  });
}

// naming.proto ---------------------------------------------------------------------------
static_assert(gateway::delete_::name == "Delete");
static_assert(gateway::new_::name == "New");
static_assert(gateway::get_http_status::name == "GetHTTPStatus");
static_assert(gateway::stream2_items::name == "Stream2Items");
static_assert(gateway::get_http_status::path == "/coronet.test.v1.HTTPGateway/GetHTTPStatus");
static_assert(std::is_same_v<gateway::delete_::service, naming::HTTPGateway>);
static_assert(std::is_same_v<gateway::chat::request, naming::Item_Part>);
static_assert(std::is_same_v<gateway::chat::response, naming::Item::Part>);
static_assert(gateway::get_http_status::kind == method_kind::unary);
static_assert(gateway::stream2_items::kind == method_kind::server_streaming);
static_assert(gateway::upload::kind == method_kind::client_streaming);
static_assert(gateway::chat::kind == method_kind::bidi);
// A tag named after `std` leaves the names after it intact; a tag never takes the name of
// one of its members or of `methods`; two methods with one snake case stay apart.
static_assert(std::is_same_v<naming::class_::methods,
                             std::tuple<naming::class_::std, naming::class_::name_,
                                        naming::class_::methods_, naming::class_::get_http,
                                        naming::class_::get_http_>>);
static_assert(naming::class_::get_http::name == "GetHttp");
static_assert(naming::class_::get_http_::name == "GetHTTP");
static_assert(std::is_same_v<naming::class_::std::service, naming::Class>);
// The message `lookup_table` keeps its name; the service's namespace steps aside.
static_assert(std::is_same_v<naming::lookup_table_::get::request, naming::lookup_table>);
static_assert(naming::lookup_table_::get::no_side_effects);

TEST(method_tags, awkward_names_become_distinct_valid_tags) {
  expect_tags_match_descriptor<gateway::methods>("coronet.test.v1.HTTPGateway");
  expect_tags_match_descriptor<naming::class_::methods>("coronet.test.v1.Class");
  expect_tags_match_descriptor<naming::lookup_table_::methods>("coronet.test.v1.LookupTable");
}

}  // namespace
