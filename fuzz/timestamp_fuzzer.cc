// libFuzzer target: the timestamp parser (native/formats/timestamp.cc, format spec §2.2).
//
// Input: the text.
//
// Properties, besides "no crash and no sanitizer report", checked against glibc's calendar
// (gmtime_r / timegm) as an independent oracle:
// - an accepted timestamp is a whole number of milliseconds; its millisecond part is the fraction's
//   first three digits (padded); minus the `±HH:MM` offset written, gmtime_r of its seconds gives back
//   exactly the year, month, day, hour, minute and second written (so no invalid date, e.g. 02-29 of a
//   common year or second 60, is ever accepted, and the day arithmetic agrees with glibc for every year
//   0000-9999);
// - conversely, every `YYYY-MM-DD HH:MM:SS` (or with `T`/`t`) naming a real UTC second is accepted.
#include <ctime>
#include <cstdint>
#include <cmath>
#include <optional>
#include <string_view>

#include "formats/timestamp.h"
#include "check.h"

namespace {

int Num(std::string_view s, size_t pos, size_t count) {
  int v = 0;
  for (size_t i = pos; i < pos + count; i++) v = v * 10 + (s[i] - '0');
  return v;
}

bool AllDigits(std::string_view s, size_t pos, size_t count) {
  if (pos + count > s.size()) return false;
  for (size_t i = pos; i < pos + count; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// The fixed-position fields of `YYYY-MM-DD?HH:MM:SS` (positions only; the caller knows the shape).
struct Fields {
  int year, month, day, hour, minute, second;
};

Fields Read(std::string_view s) {
  return {Num(s, 0, 4), Num(s, 5, 2), Num(s, 8, 2), Num(s, 11, 2), Num(s, 14, 2), Num(s, 17, 2)};
}

bool IsCanonicalShape(std::string_view s) {
  return s.size() == 19 && AllDigits(s, 0, 4) && s[4] == '-' && AllDigits(s, 5, 2) && s[7] == '-' && AllDigits(s, 8, 2) &&
         (s[10] == ' ' || s[10] == 'T' || s[10] == 't') && AllDigits(s, 11, 2) && s[13] == ':' && AllDigits(s, 14, 2) &&
         s[16] == ':' && AllDigits(s, 17, 2);
}

// True when glibc's calendar has this UTC second (timegm normalizes out-of-range fields; a real
// second survives the round trip unchanged).
bool IsRealSecond(const Fields& f) {
  if (f.hour > 23 || f.minute > 59 || f.second > 59) return false;
  struct tm tm = {};
  tm.tm_year = f.year - 1900;
  tm.tm_mon = f.month - 1;
  tm.tm_mday = f.day;
  tm.tm_hour = f.hour;
  tm.tm_min = f.minute;
  tm.tm_sec = f.second;
  time_t t = timegm(&tm);
  struct tm back;
  if (!gmtime_r(&t, &back)) return false;
  return back.tm_year == f.year - 1900 && back.tm_mon == f.month - 1 && back.tm_mday == f.day &&
         back.tm_hour == f.hour && back.tm_min == f.minute && back.tm_sec == f.second;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  std::optional<double> ms = msb::ParseTimestampMs(s);

  if (ms) {
    FUZZ_CHECK(std::isfinite(*ms) && *ms == std::floor(*ms), "not a whole number of milliseconds: %f", *ms);
    FUZZ_CHECK(s.size() >= 19, "accepted %zu bytes", s.size());
    Fields f = Read(s);

    // Fraction and offset, from the tail.
    size_t i = 19;
    int millis = 0;
    if (i < s.size() && s[i] == '.') {
      size_t start = ++i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (i - start < 3) millis = millis * 10 + (s[i] - '0');
        i++;
      }
      for (size_t k = i - start; k < 3; k++) millis *= 10;
    }
    int64_t offsetSeconds = 0;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      FUZZ_CHECK(AllDigits(s, i + 1, 2) && AllDigits(s, i + 4, 2), "accepted a malformed offset");
      offsetSeconds = (s[i] == '+' ? 1 : -1) * (int64_t(Num(s, i + 1, 2)) * 3600 + int64_t(Num(s, i + 4, 2)) * 60);
    }

    int64_t total = int64_t(*ms);
    int64_t secs = total >= 0 ? total / 1000 : -((-total + 999) / 1000);  // floor division
    FUZZ_CHECK(total - secs * 1000 == millis, "millisecond part %lld, fraction says %d", (long long)(total - secs * 1000),
               millis);
    time_t local = time_t(secs + offsetSeconds);
    struct tm tm;
    FUZZ_CHECK(gmtime_r(&local, &tm) != nullptr, "gmtime_r failed for %lld", (long long)local);
    FUZZ_CHECK(tm.tm_year + 1900 == f.year && tm.tm_mon + 1 == f.month && tm.tm_mday == f.day && tm.tm_hour == f.hour &&
                   tm.tm_min == f.minute && tm.tm_sec == f.second,
               "%.*s parsed to %lld ms, which is %04d-%02d-%02d %02d:%02d:%02d%+lld s", int(s.size()), s.data(),
               (long long)total, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               (long long)offsetSeconds);
  }

  if (IsCanonicalShape(s) && IsRealSecond(Read(s))) {
    FUZZ_CHECK(ms.has_value(), "rejected a real UTC second: %.*s", int(s.size()), s.data());
  }
  return 0;
}
