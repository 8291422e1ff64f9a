#include <gtest/gtest.h>

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "server/call_context.h"
#include "tests/testing/status_matchers.h"

namespace custra::server {
namespace {

using ::custra::testing::StatusIs;

TEST(TenantConcurrencyLimiterTest, RefusesAtTheLimitPerTenant) {
  TenantConcurrencyLimiter limiter(2);
  auto a = limiter.Acquire("acme");
  auto b = limiter.Acquire("acme");
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = limiter.Acquire("acme");
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_NE(c.status().message().find("2 calls in flight"), std::string::npos)
      << c.status();
  EXPECT_TRUE(limiter.Acquire("other").ok());  // Tenants are separate.
  { auto released = std::move(*a); }
  EXPECT_TRUE(limiter.Acquire("acme").ok());  // A slot came free.
}

TEST(TenantConcurrencyLimiterTest, ARefusalAsksToWaitAboutOneCallsTime) {
  TenantConcurrencyLimiter limiter(1);
  // No call has finished yet: the shortest delay.
  std::optional<TenantConcurrencyLimiter::Slot> held;
  held.emplace(*limiter.Acquire("acme"));
  auto first = limiter.Acquire("acme");
  ASSERT_THAT(first, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(RetryDelayOf(first.status()),
            TenantConcurrencyLimiter::kMinRetryDelay);
  // Calls that hold their slot >= 30 ms: the delay follows them. The
  // average weighs each call 1/8, so after the first (short) hold and 16
  // of these it is at least 30 ms * (1 - (7/8)^16) = 26.5 ms.
  for (int i = 0; i < 16; ++i) {
    held.reset();
    held.emplace(*limiter.Acquire("acme"));
    absl::SleepFor(absl::Milliseconds(30));
  }
  held.reset();
  held.emplace(*limiter.Acquire("acme"));
  auto later = limiter.Acquire("acme");
  ASSERT_THAT(later, StatusIs(absl::StatusCode::kResourceExhausted));
  const std::optional<absl::Duration> delay = RetryDelayOf(later.status());
  ASSERT_TRUE(delay.has_value());
  EXPECT_GE(*delay, absl::Microseconds(26'500));
  EXPECT_LE(*delay, absl::Milliseconds(500));  // Sleeps overshoot a little.
  EXPECT_NE(later.status().message().find("retry after"), std::string::npos);
  // Another tenant's history is its own.
  TenantConcurrencyLimiter::Slot other = *limiter.Acquire("other");
  EXPECT_EQ(RetryDelayOf(limiter.Acquire("other").status()),
            TenantConcurrencyLimiter::kMinRetryDelay);
}

TEST(TenantConcurrencyLimiterTest, AWaitingCallGetsTheNextFreeSlot) {
  TenantConcurrencyLimiter limiter(1, "heavy calls");
  std::optional<TenantConcurrencyLimiter::Slot> held;
  held.emplace(*limiter.Acquire("acme"));
  // A short wait runs out and is refused, naming what is limited.
  const absl::Time start = absl::Now();
  auto refused = limiter.Acquire("acme", absl::Milliseconds(50));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_NE(refused.status().message().find("1 heavy calls"),
            std::string::npos);
  // A long wait ends as soon as the slot is released.
  absl::Notification acquired;
  std::thread waiter([&] {
    auto slot = limiter.Acquire("acme", absl::Seconds(30));
    EXPECT_TRUE(slot.ok()) << slot.status();
    acquired.Notify();
  });
  EXPECT_FALSE(acquired.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  held.reset();
  EXPECT_TRUE(acquired.WaitForNotificationWithTimeout(absl::Seconds(10)));
  waiter.join();
}

}  // namespace
}  // namespace custra::server
