// The text of a `.coronet.pb.h` (generator.hpp). Every name the header writes is fully
// qualified (`::std::string_view`, `::coronet::rpc::method_kind`), so that a tag named after a
// method such as `Std` cannot change what the tags after it mean.
#include "generator.hpp"

#include "names.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream.h>

#include <memory>
#include <set>
#include <string_view>

namespace coronet::protoc_gen {

namespace {

namespace pb = google::protobuf;

// `x.proto` → `x`, as grpc_cpp_plugin names its outputs.
std::string strip_proto(const std::string& file_name) {
  for (const std::string_view suffix : {".protodevel", ".proto"}) {
    if (file_name.size() > suffix.size() && file_name.ends_with(suffix)) {
      return file_name.substr(0, file_name.size() - suffix.size());
    }
  }
  return file_name;
}

std::string replace_all(std::string_view text, char from, std::string_view to) {
  std::string out;
  for (const char c : text) {
    if (c == from) {
      out += to;
    } else {
      out += c;
    }
  }
  return out;
}

// A message's C++ class, named exactly as grpc_cpp_plugin names it in the service class
// (`a.b.Outer.Inner` → `::a::b::Outer_Inner`), so that `request` and the service's own
// signatures are the same type.
std::string message_class(const pb::Descriptor& message) {
  const pb::Descriptor* outer = &message;
  while (outer->containing_type() != nullptr) outer = outer->containing_type();
  const std::string inner = message.full_name().substr(outer->full_name().size());
  return "::" + replace_all(outer->full_name(), '.', "::") + replace_all(inner, '.', "_");
}

std::string service_class(const pb::ServiceDescriptor& service) {
  return "::" + replace_all(service.full_name(), '.', "::");
}

// The C++ names protobuf and gRPC declare in `file`'s package namespace, from `file` and
// from every file it imports in the same package: a service's namespace must not take one.
void package_names(const pb::FileDescriptor& file, const std::string& package,
                   std::set<const pb::FileDescriptor*>& seen, std::set<std::string>& names) {
  if (!seen.insert(&file).second) return;
  if (file.package() == package) {
    auto add_enum = [&names](const pb::EnumDescriptor& e, const std::string& prefix) {
      names.insert(prefix + e.name());
      for (int i = 0; i < e.value_count(); ++i) names.insert(prefix + e.value(i)->name());
    };
    auto add_message = [&](auto& self, const pb::Descriptor& m,
                           const std::string& prefix) -> void {
      const std::string name = prefix + m.name();
      names.insert(name);
      for (int i = 0; i < m.nested_type_count(); ++i) self(self, *m.nested_type(i), name + "_");
      for (int i = 0; i < m.enum_type_count(); ++i) add_enum(*m.enum_type(i), name + "_");
    };
    for (int i = 0; i < file.message_type_count(); ++i) {
      add_message(add_message, *file.message_type(i), "");
    }
    for (int i = 0; i < file.enum_type_count(); ++i) add_enum(*file.enum_type(i), "");
    for (int i = 0; i < file.extension_count(); ++i) names.insert(file.extension(i)->name());
    for (int i = 0; i < file.service_count(); ++i) names.insert(file.service(i)->name());
  }
  for (int i = 0; i < file.dependency_count(); ++i) {
    package_names(*file.dependency(i), package, seen, names);
  }
}

// `base`, or `base` with as many trailing underscores as it takes to be neither a reserved
// word nor in `taken`; the result joins `taken`.
std::string unique_name(std::string base, std::set<std::string>& taken) {
  while (is_reserved_word(base) || taken.contains(base)) base += '_';
  taken.insert(base);
  return base;
}

// The .proto's comment, as `///` lines. A trailing backslash would splice the next line into
// the comment, so it goes.
void append_doc(std::string& out, const std::string& comment, std::string_view indent) {
  std::string text = comment;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty()) return;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r' ||
                             line.back() == '\\')) {
      line.pop_back();
    }
    out.append(indent).append("///").append(line).append("\n");
    start = end + 1;
  }
}

template <class Descriptor>
std::string leading_comment(const Descriptor& descriptor) {
  pb::SourceLocation location;
  return descriptor.GetSourceLocation(&location) ? location.leading_comments : std::string();
}

std::string_view kind_name(const pb::MethodDescriptor& method) {
  if (method.client_streaming()) return method.server_streaming() ? "bidi" : "client_streaming";
  return method.server_streaming() ? "server_streaming" : "unary";
}

// `rpc SayHello (Greeting) returns (stream Greeting);`, for the tag's doc comment.
std::string rpc_line(const pb::MethodDescriptor& method) {
  return "rpc " + method.name() + " (" + (method.client_streaming() ? "stream " : "") +
         method.input_type()->full_name() + ") returns (" +
         (method.server_streaming() ? "stream " : "") + method.output_type()->full_name() + ");";
}

void append_tag(std::string& out, const pb::MethodDescriptor& method, const std::string& tag) {
  const bool no_side_effects =
      method.options().idempotency_level() == pb::MethodOptions::NO_SIDE_EFFECTS;
  const std::size_t before = out.size();
  append_doc(out, leading_comment(method), "");
  if (out.size() != before) out += "///\n";
  out += "///     " + rpc_line(method) + "\n";
  out += "struct " + tag + " {\n";
  out += "  using service = " + service_class(*method.service()) + ";\n";
  out += "  using request = " + message_class(*method.input_type()) + ";\n";
  out += "  using response = " + message_class(*method.output_type()) + ";\n";
  out += "  static constexpr ::coronet::rpc::method_kind kind = ::coronet::rpc::method_kind::";
  out += std::string(kind_name(method)) + ";\n";
  out += "  static constexpr int index = " + std::to_string(method.index()) + ";\n";
  out += "  static constexpr ::std::string_view name = \"" + method.name() + "\";\n";
  out += "  static constexpr ::std::string_view path = \"/" + method.service()->full_name() +
         "/" + method.name() + "\";\n";
  out += "  static constexpr bool no_side_effects = ";
  out += no_side_effects ? "true;\n" : "false;\n";
  out += "};\n\n";
}

void append_service(std::string& out, const pb::ServiceDescriptor& service,
                    const std::string& ns) {
  append_doc(out, leading_comment(service), "");
  out += "/// The method tags of " + service.full_name() + ".\n";
  out += "namespace " + ns + " {\n\n";
  // A tag's name must differ from its own members' and from the `methods` list.
  std::set<std::string> taken = {"service", "request", "response", "kind",   "index",
                                 "name",    "path",    "no_side_effects", "methods"};
  std::string list;
  for (int i = 0; i < service.method_count(); ++i) {
    const pb::MethodDescriptor& method = *service.method(i);
    const std::string tag = unique_name(snake_case(method.name()), taken);
    append_tag(out, method, tag);
    list += (i == 0 ? "" : ", ") + tag;
  }
  out += "/// Every method of " + service.full_name() + ", in the order of the .proto.\n";
  out += "using methods = ::std::tuple<" + list + ">;\n\n";
  out += "}  // namespace " + ns + "\n\n";
}

}  // namespace

std::string tags_header(const pb::FileDescriptor& file) {
  std::string out;
  out += "// Generated by protoc-gen-coronet from " + file.name() + ". Do not edit.\n";
  out += "//\n";
  out += "// One coronet::rpc method tag per method of each service (see\n";
  out += "// <coronet/rpc/method.hpp>): the types that name a method to the compiler.\n";
  out += "#pragma once\n\n";
  out += "#include \"" + strip_proto(file.name()) + ".grpc.pb.h\"\n\n";
  out += "#include <coronet/rpc/method.hpp>\n\n";
  out += "#include <string_view>\n";
  out += "#include <tuple>\n\n";

  std::set<std::string> taken;
  std::set<const pb::FileDescriptor*> seen;
  package_names(file, file.package(), seen, taken);
  const std::string package =
      file.package().empty() ? "" : replace_all(file.package(), '.', "::") + "::";
  for (int i = 0; i < file.service_count(); ++i) {
    const pb::ServiceDescriptor& service = *file.service(i);
    append_service(out, service, package + unique_name(snake_case(service.name()), taken));
  }
  while (out.ends_with("\n\n")) out.pop_back();
  return out;
}

bool generator::Generate(const pb::FileDescriptor* file, const std::string& parameter,
                         pb::compiler::GeneratorContext* context, std::string* error) const {
  if (!parameter.empty()) {
    *error = "protoc-gen-coronet takes no options (got \"" + parameter + "\")";
    return false;
  }
  const std::string text = tags_header(*file);
  const std::unique_ptr<pb::io::ZeroCopyOutputStream> stream(
      context->Open(strip_proto(file->name()) + ".coronet.pb.h"));
  pb::io::CodedOutputStream output(stream.get());
  output.WriteRaw(text.data(), static_cast<int>(text.size()));
  return !output.HadError();
}

}  // namespace coronet::protoc_gen
