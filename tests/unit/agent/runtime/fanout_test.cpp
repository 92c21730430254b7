#include <doctest/doctest.h>

#include "agent/runtime/fanout.hpp"
#include "tests/support/fake_components.hpp"

using namespace vigil;
using namespace vigil::testing;

namespace {

struct Sink : component::Consumer {
  explicit Sink(bool mutates, Status result = Status::ok()) : mutates_(mutates), result_(std::move(result)) {}
  Status consume(Batch&& b) override {
    got.push_back(std::move(b));
    return result_;
  }
  bool mutates_data() const override { return mutates_; }
  bool mutates_;
  Status result_;
  std::vector<Batch> got;
};

}  // namespace

TEST_CASE("fan-out gives every consumer every item; mutating consumers get their own copy") {
  Sink reader1(false), reader2(false), writer(true);
  runtime::Fanout fan({&writer, &reader1, &reader2});
  CHECK(fan.mutates_data());
  Batch b = make_logs(4);
  const void* original_records = b.resource_logs()[0].scope_logs[0].log_records.data();
  REQUIRE(fan.consume(std::move(b)).is_ok());
  REQUIRE(reader1.got.size() == 1);
  REQUIRE(reader2.got.size() == 1);
  REQUIRE(writer.got.size() == 1);
  CHECK(bodies(reader1.got[0]) == std::vector<std::string>{"r0", "r1", "r2", "r3"});
  CHECK(bodies(reader2.got[0]) == bodies(reader1.got[0]));
  CHECK(bodies(writer.got[0]) == bodies(reader1.got[0]));
  // Readers share the records; the writer's are elsewhere.
  CHECK(reader1.got[0].resource_logs()[0].scope_logs[0].log_records.data() == original_records);
  CHECK(writer.got[0].resource_logs()[0].scope_logs[0].log_records.data() != original_records);
  // A change by the writer is not seen by the readers.
  auto& rec = writer.got[0].resource_logs()[0].scope_logs[0].log_records[0];
  rec.body = model::AnyValue::string("changed");
  CHECK(bodies(reader1.got[0])[0] == "r0");
}

TEST_CASE("fan-out reports the worst status") {
  Sink ok(false), retry(false, Status::retryable("full")), perm(false, Status::permanent("bad"));
  {
    runtime::Fanout fan({&ok, &retry});
    CHECK(fan.consume(make_logs(1)).is_retryable());
  }
  {
    runtime::Fanout fan({&retry, &perm, &ok});
    CHECK(fan.consume(make_logs(1)).is_permanent());
  }
  {
    runtime::Fanout fan({&ok});
    CHECK_FALSE(fan.mutates_data());
    CHECK(fan.consume(make_logs(1)).is_ok());
  }
}
