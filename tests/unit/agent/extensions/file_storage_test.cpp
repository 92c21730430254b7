// The file_storage extension: options, start-up checks on the directory, the client key-value
// store (round trip, isolation, escaping, crash leftovers) and the lock between processes.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "agent/config/loader.hpp"
#include "agent/extensions/file_storage/file_storage.hpp"
#include "tests/support/http_test_support.hpp"
#include "tests/support/process.hpp"

using namespace vigil;
using namespace vigil::testing;
using namespace std::chrono_literals;
using component::Kind;
using component::StorageClient;
using extensions::FileStorageExtension;
using extensions::FileStorageOptions;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Errors from validating `yaml` against the factory's schema and its cross-option checks.
std::vector<std::string> check(const std::string& yaml) {
  const component::Factory f = extensions::file_storage_extension_factory();
  config::Errors errors;
  config::Value node = config::parse_yaml(yaml, "c.yaml", errors);
  REQUIRE(errors.empty());
  config::validate(f.schema, &node, {}, "file_storage", errors);
  f.validate(config::Settings(&f.schema, &node, {}), "file_storage", errors);
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.str());
  return out;
}

// The names in `dir`, sorted.
std::vector<std::string> list(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<std::string> get(StorageClient& c, std::string_view key) {
  std::optional<std::string> value = std::string("stale");
  const component::Status s = c.get(key, value);
  REQUIRE_MESSAGE(s.is_ok(), s.message());
  return value;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// A started extension on a fresh directory.
struct Fixture {
  TempDir dir;
  IoRunner runner{1};
  FakeHost host{runner.io()};

  std::unique_ptr<FileStorageExtension> make(FileStorageOptions o = {}) {
    if (o.directory == FileStorageOptions().directory) o.directory = dir.path();
    auto ext = std::make_unique<FileStorageExtension>("file_storage/test", o);
    const component::Status s = ext->start(host);
    REQUIRE_MESSAGE(s.is_ok(), s.message());
    return ext;
  }
  static std::unique_ptr<StorageClient> client(FileStorageExtension& ext, Kind kind, std::string_view id,
                                               std::string_view name = "") {
    std::string error;
    auto c = ext.client(kind, id, name, error);
    REQUIRE_MESSAGE(c != nullptr, error);
    CHECK(error.empty());
    return c;
  }
};

}  // namespace

TEST_CASE("file_storage: factory, defaults and validation") {
  const component::Factory f = extensions::file_storage_extension_factory();
  CHECK(f.type == "file_storage");
  CHECK(f.kind == component::Kind::kExtension);
  REQUIRE(f.create_extension);

  config::Errors errors;
  config::Value node = config::parse_yaml("{}", "c.yaml", errors);
  FileStorageOptions o = extensions::read_file_storage_options(config::Settings(&f.schema, &node, {}));
  CHECK(o.directory == "/var/lib/vigil/file_storage");
  CHECK_FALSE(o.create_directory);
  CHECK(o.directory_permissions == 0750);
  CHECK(o.fsync);
  CHECK(o.timeout == 1000ms);

  node = config::parse_yaml(
      "directory: /x/y\ncreate_directory: true\ndirectory_permissions: \"0700\"\nfsync: false\ntimeout: "
      "250ms\n",
      "c.yaml", errors);
  REQUIRE(errors.empty());
  o = extensions::read_file_storage_options(config::Settings(&f.schema, &node, {}));
  CHECK(o.directory == "/x/y");
  CHECK(o.create_directory);
  CHECK(o.directory_permissions == 0700);
  CHECK_FALSE(o.fsync);
  CHECK(o.timeout == 250ms);

  CHECK(check("{}").empty());
  CHECK(check("directory: /var/lib/otelcol/file_storage\ntimeout: 1s\nfsync: false\n").empty());
  CHECK(check("create_directory: true\ndirectory_permissions: \"750\"\n").empty());
  // Like the Collector: directory_permissions is looked at only with create_directory.
  CHECK(check("directory_permissions: rwx\n").empty());

  auto e = check("create_directory: true\ndirectory_permissions: rwx\n");
  REQUIRE(e.size() == 1);
  CHECK(contains(e[0], "directory_permissions \"rwx\" is not an octal mode"));
  e = check("create_directory: true\ndirectory_permissions: \"0999\"\n");
  CHECK(e.size() == 1);
  e = check("create_directory: true\ndirectory_permissions: \"017777\"\n");
  CHECK(e.size() == 1);

  e = check("directory: \"\"\n");
  REQUIRE(e.size() == 1);
  CHECK(contains(e[0], "directory is empty"));

  // Collector options Vigil does not have are rejected by the schema, not ignored.
  e = check("compaction:\n  on_start: true\n");
  REQUIRE(e.size() == 1);
  CHECK(contains(e[0], "compaction"));
  CHECK_FALSE(check("timeout: -1s\n").empty());
}

TEST_CASE("file_storage: names are the Collector's, escaped") {
  using extensions::file_storage_client_dir;
  using extensions::file_storage_escape;
  using extensions::file_storage_key_file;
  CHECK(file_storage_client_dir(Kind::kReceiver, "filelog/app", "") == "receiver_filelog_app");
  CHECK(file_storage_client_dir(Kind::kReceiver, "filelog", "") == "receiver_filelog_");
  CHECK(file_storage_client_dir(Kind::kExporter, "otlp/x", "queue") == "exporter_otlp_x_queue");
  CHECK(file_storage_client_dir(Kind::kReceiver, "filelog/logs/container", "") ==
        "receiver_filelog_logs~002Fcontainer");
  CHECK(file_storage_client_dir(Kind::kReceiver, "filelog/a b", "c~d") == "receiver_filelog_a~0020b_c~007Ed");

  CHECK(file_storage_escape("Az09._-") == "Az09._-");
  CHECK(file_storage_escape("a/b?c|d~") == "a~002Fb~003Fc~007Cd~007E");
  CHECK(file_storage_escape(std::string("\0\xff", 2)) == "~0000~00FF");

  CHECK(file_storage_key_file("checkpoint") == "checkpoint");
  CHECK(file_storage_key_file("file_input.knownFiles") == "file_input.knownFiles");
  CHECK(file_storage_key_file(".") == "~002E");
  CHECK(file_storage_key_file("..") == "~002E.");
  CHECK(file_storage_key_file(".hidden") == "~002Ehidden");
  CHECK(file_storage_key_file("a.tmp") == "a~002Etmp");
  CHECK(file_storage_key_file(".tmp") == "~002Etmp");
  CHECK(file_storage_key_file("a/../b") == "a~002F..~002Fb");
  CHECK(file_storage_key_file("").empty());
  CHECK(file_storage_key_file(std::string(251, 'k')) == std::string(251, 'k'));
  CHECK(file_storage_key_file(std::string(252, 'k')).empty());
  CHECK(file_storage_key_file(std::string(60, '/')).empty());  // 300 bytes once escaped
}

TEST_CASE("file_storage: get, set, overwrite and remove") {
  Fixture fx;
  auto ext = fx.make();
  auto c = Fixture::client(*ext, Kind::kReceiver, "filelog/app");

  CHECK_FALSE(get(*c, "checkpoint").has_value());
  REQUIRE(c->set("checkpoint", "v1").is_ok());
  CHECK(get(*c, "checkpoint") == "v1");

  // Binary values of any size up to the bound, and the empty value (present, not absent).
  std::string big(3 * 64 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
  REQUIRE(c->set("checkpoint", big).is_ok());
  CHECK(get(*c, "checkpoint") == big);
  REQUIRE(c->set("checkpoint", "short").is_ok());
  CHECK(get(*c, "checkpoint") == "short");
  REQUIRE(c->set("empty", "").is_ok());
  CHECK(get(*c, "empty") == std::string());

  const std::string dir = fx.dir.file("receiver_filelog_app");
  CHECK(list(dir) == std::vector<std::string>{"checkpoint", "empty"});
  CHECK(read_file(dir + "/checkpoint") == "short");
  CHECK(mode_of(dir + "/checkpoint") == 0600);

  REQUIRE(c->remove("checkpoint").is_ok());
  CHECK_FALSE(get(*c, "checkpoint").has_value());
  CHECK(c->remove("checkpoint").is_ok());  // absent is fine
  CHECK(c->remove("never-set").is_ok());
  CHECK(list(dir) == std::vector<std::string>{"empty"});

  // Keys that cannot be file names are refused with a permanent error, not truncated.
  std::optional<std::string> value;
  CHECK(c->set("", "x").is_permanent());
  CHECK(c->get("", value).is_permanent());
  const component::Status s = c->set(std::string(300, 'k'), "x");
  CHECK(s.is_permanent());
  CHECK(contains(s.message(), "too long"));
  CHECK(c->set("k", std::string(extensions::kFileStorageMaxValueBytes + 1, 'x')).is_permanent());

  SUBCASE("without fsync the behaviour is the same") {
    FileStorageOptions o;
    o.fsync = false;
    auto nosync = fx.make(o);
    auto n = Fixture::client(*nosync, Kind::kReceiver, "filelog/nosync");
    REQUIRE(n->set("k", "v").is_ok());
    CHECK(get(*n, "k") == "v");
    REQUIRE(n->remove("k").is_ok());
    CHECK_FALSE(get(*n, "k").has_value());
  }
}

TEST_CASE("file_storage: clients are isolated; the same arguments reach the same data") {
  Fixture fx;
  {
    auto ext = fx.make();
    auto app = Fixture::client(*ext, Kind::kReceiver, "filelog/app");
    auto other = Fixture::client(*ext, Kind::kReceiver, "filelog/other");
    auto named = Fixture::client(*ext, Kind::kReceiver, "filelog/app", "extra");
    auto exporter = Fixture::client(*ext, Kind::kExporter, "filelog/app");
    REQUIRE(app->set("k", "app").is_ok());
    REQUIRE(other->set("k", "other").is_ok());
    REQUIRE(named->set("k", "named").is_ok());
    CHECK_FALSE(get(*exporter, "k").has_value());
    CHECK(get(*app, "k") == "app");
    CHECK(get(*other, "k") == "other");
    CHECK(get(*named, "k") == "named");
    CHECK(list(fx.dir.path()) == std::vector<std::string>{"exporter_filelog_app", "receiver_filelog_app",
                                                          "receiver_filelog_app_extra",
                                                          "receiver_filelog_other"});

    // A second client for the same component, open at the same time (from another extension
    // instance too, as during a config reload), sees and changes the same data.
    auto again = Fixture::client(*ext, Kind::kReceiver, "filelog/app");
    CHECK(get(*again, "k") == "app");
    auto ext2 = fx.make();
    auto reload = Fixture::client(*ext2, Kind::kReceiver, "filelog/app");
    REQUIRE(reload->set("k", "changed").is_ok());
    CHECK(get(*app, "k") == "changed");
    ext->shutdown(component::Clock::now());
    ext2->shutdown(component::Clock::now());
  }
  // A restart: new extension, new client, the data is there.
  auto ext = fx.make();
  auto app = Fixture::client(*ext, Kind::kReceiver, "filelog/app");
  CHECK(get(*app, "k") == "changed");

  // Escaped names land in escaped files and read back under the original key.
  auto odd = Fixture::client(*ext, Kind::kReceiver, "filelog/logs/x y");
  REQUIRE(odd->set("file_input.knownFiles", "a").is_ok());
  REQUIRE(odd->set("../../escape", "b").is_ok());
  REQUIRE(odd->set("k.tmp", "c").is_ok());
  REQUIRE(odd->set("k", "d").is_ok());
  CHECK(get(*odd, "../../escape") == "b");
  CHECK(get(*odd, "k.tmp") == "c");
  CHECK(get(*odd, "k") == "d");
  const std::string odd_dir = fx.dir.file("receiver_filelog_logs~002Fx~0020y");
  CHECK(list(odd_dir) ==
        std::vector<std::string>{"file_input.knownFiles", "k", "k~002Etmp", "~002E.~002F..~002Fescape"});
  CHECK(list(fx.dir.path()).size() == 5);  // nothing escaped the storage directory
}

TEST_CASE("file_storage: a crash leaves the old value or the new one, never a mix") {
  Fixture fx;
  auto ext = fx.make();
  auto c = Fixture::client(*ext, Kind::kReceiver, "filelog");
  REQUIRE(c->set("checkpoint", "old").is_ok());
  const std::string dir = fx.dir.file("receiver_filelog_");

  // A crash between writing the temporary file and the rename: a partial new value is left.
  write_file(dir + "/checkpoint.tmp", "new but cut sh");
  CHECK(get(*c, "checkpoint") == "old");

  // After a restart the key still reads the old value; the next set replaces the leftover.
  c.reset();
  auto after = Fixture::client(*ext, Kind::kReceiver, "filelog");
  CHECK(get(*after, "checkpoint") == "old");
  REQUIRE(after->set("checkpoint", "new").is_ok());
  CHECK(get(*after, "checkpoint") == "new");
  CHECK(list(dir) == std::vector<std::string>{"checkpoint"});

  // A leftover for a key that was never set is not a value.
  write_file(dir + "/fresh.tmp", "x");
  CHECK_FALSE(get(*after, "fresh").has_value());
}

TEST_CASE("file_storage: start checks the directory") {
  TempDir dir;
  IoRunner runner(1);
  FakeHost host(runner.io());
  FileStorageOptions o;

  SUBCASE("missing, and create_directory is not set") {
    o.directory = dir.file("missing");
    FileStorageExtension ext("file_storage", o);
    const component::Status s = ext.start(host);
    CHECK(s.is_permanent());
    CHECK(contains(s.message(), o.directory));
    CHECK(contains(s.message(), "does not exist"));
    CHECK(contains(s.message(), "create_directory"));
    std::string error;
    CHECK(ext.client(Kind::kReceiver, "filelog", "", error) == nullptr);
    CHECK(contains(error, "not started"));
  }

  SUBCASE("not a directory") {
    o.directory = dir.file("file");
    write_file(o.directory, "x");
    FileStorageExtension ext("file_storage", o);
    const component::Status s = ext.start(host);
    CHECK(s.is_permanent());
    CHECK(contains(s.message(), "\"" + o.directory + "\" is not a directory"));
    o.create_directory = true;
    FileStorageExtension create("file_storage", o);
    CHECK(contains(create.start(host).message(), "cannot create directory"));
  }

  SUBCASE("not writable") {
    // Files cannot be created in /proc, not even by root.
    o.directory = "/proc";
    FileStorageExtension ext("file_storage", o);
    const component::Status s = ext.start(host);
    CHECK(s.is_permanent());
    CHECK(contains(s.message(), "directory \"/proc\" is not writable"));
    // Permission bits stop everyone but root.
    if (::geteuid() != 0) {
      o.directory = dir.file("readonly");
      REQUIRE(::mkdir(o.directory.c_str(), 0500) == 0);
      FileStorageExtension ro("file_storage", o);
      const component::Status r = ro.start(host);
      CHECK(r.is_permanent());
      CHECK(contains(r.message(), o.directory));
      CHECK(contains(r.message(), "Permission denied"));
      ::chmod(o.directory.c_str(), 0700);
    }
  }

  SUBCASE("create_directory makes it, and its parents, with the permissions") {
    const mode_t saved = ::umask(022);
    o.create_directory = true;
    o.directory_permissions = 0710;
    o.directory = dir.file("a/b/state");
    FileStorageExtension ext("file_storage", o);
    const component::Status s = ext.start(host);
    ::umask(saved);
    REQUIRE_MESSAGE(s.is_ok(), s.message());
    CHECK(mode_of(dir.file("a")) == 0710);
    CHECK(mode_of(dir.file("a/b")) == 0710);
    CHECK(mode_of(o.directory) == 0710);
    CHECK(list(o.directory).empty());  // the write check leaves nothing behind
    // An existing directory keeps its permissions.
    REQUIRE(::chmod(o.directory.c_str(), 0755) == 0);
    FileStorageExtension again("file_storage", o);
    REQUIRE(again.start(host).is_ok());
    CHECK(mode_of(o.directory) == 0755);
    auto c = Fixture::client(again, Kind::kReceiver, "filelog");
    CHECK(c->set("k", "v").is_ok());
  }

  SUBCASE("the directory is resolved at start") {
    REQUIRE(::mkdir(dir.file("sub").c_str(), 0700) == 0);
    o.directory = dir.path() + "/./sub/../";
    FileStorageExtension ext("file_storage", o);
    REQUIRE(ext.start(host).is_ok());
    CHECK(ext.directory() == std::filesystem::canonical(dir.path()).string());
  }

  SUBCASE("through the factory, as the agent creates it") {
    const component::Factory f = extensions::file_storage_extension_factory();
    config::Errors errors;
    config::Value node = config::parse_yaml("directory: " + dir.path() + "\n", "c.yaml", errors);
    config::Settings settings(&f.schema, &node, {});
    auto created =
        f.create_extension(component::CreateSettings{"file_storage/x", settings, host.telemetry(), ""});
    REQUIRE(created->start(host).is_ok());
    auto* storage = dynamic_cast<component::StorageExtension*>(created.get());
    REQUIRE(storage != nullptr);
    std::string error;
    auto c = storage->client(Kind::kReceiver, "filelog", "", error);
    REQUIRE(c != nullptr);
    CHECK(c->set("k", "v").is_ok());
    created->shutdown(component::Clock::now());
  }
}

TEST_CASE("file_storage: another process holding a component's directory makes client() fail") {
  Fixture fx;
  FileStorageOptions o;
  o.timeout = 50ms;
  auto ext = fx.make(o);
  const std::string dir = fx.dir.file("receiver_filelog_app");
  REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
  // Another open file description conflicts exactly as another process's would.
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);

  std::string error;
  CHECK(ext->client(Kind::kReceiver, "filelog/app", "", error) == nullptr);
  CHECK(contains(error, dir));
  CHECK(contains(error, "locked by another process"));
  // Other components are not affected.
  auto other = Fixture::client(*ext, Kind::kReceiver, "filelog/other");
  CHECK(other->set("k", "v").is_ok());

  ::close(fd);
  auto app = Fixture::client(*ext, Kind::kReceiver, "filelog/app");
  CHECK(app->set("k", "v").is_ok());
  // And now this process holds it.
  const int fd2 = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(fd2 >= 0);
  CHECK(::flock(fd2, LOCK_EX | LOCK_NB) != 0);
  app.reset();
  CHECK(::flock(fd2, LOCK_EX | LOCK_NB) == 0);
  ::close(fd2);
}
