// Timestamps as msb stores them: UTC text `YYYY-MM-DD HH:MM:SS[.fraction]`, also accepting a
// `T` separator and a `Z` or `±HH:MM` suffix (format spec §2.2).
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace msb {

// Milliseconds since the Unix epoch (fraction truncated to the millisecond, as a JS Date
// holds it), or nullopt when `text` is not such a timestamp.
std::optional<double> ParseTimestampMs(std::string_view text);

// The same instant with the nanoseconds below the millisecond that a JS Date cannot hold
// (0..999999; msb's CLI prints up to 9 fraction digits in its RFC 3339 times).
struct Timestamp {
  double ms = 0;
  int32_t subMsNanos = 0;
};
std::optional<Timestamp> ParseTimestamp(std::string_view text);

}  // namespace msb
