// libFuzzer target: the reference parser and normalizer, and the digest check that guards every
// digest-derived file name (native/formats/reference.cc, format spec §3 and §3.1).
//
// Input: the reference's bytes.
//
// Properties, besides "no crash and no sanitizer report":
// - NormalizeReference succeeds only where ParseReference does;
// - the normalized form is printable (no byte below 0x21, no DEL), is `domain/path` followed by a tag,
//   a digest or both, and its manifests/ stem is 64 lowercase hex;
// - normalizing is idempotent: normalize(normalize(x)) == normalize(x), with one documented exception
//   kept for parity with msb's client: a reference whose first component has capitals and is taken as a
//   docker.io namespace (`Foo/bar` -> `docker.io/Foo/bar:latest`) normalizes to a name the grammar rejects;
// - a string that IsValidDigest accepts is a reference digest too (`x@<digest>` parses, keeping it), and its
//   file stem is `sha256_`/`sha512_` + lowercase hex: no `/`, no `.`, nothing else.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "formats/reference.h"
#include "check.h"

namespace {

bool HasUpper(std::string_view s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return true;
  }
  return false;
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view ref(reinterpret_cast<const char*>(data), size);
  std::optional<msb::ParsedReference> parsed = msb::ParseReference(ref);
  std::optional<std::string> n = msb::NormalizeReference(ref);

  if (n) {
    FUZZ_CHECK(parsed.has_value(), "normalized to '%s' without parsing", n->c_str());
    for (char c : *n) {
      unsigned char u = static_cast<unsigned char>(c);
      FUZZ_CHECK(u > 0x20 && u != 0x7f, "normalized form holds byte 0x%02x", u);
    }
    std::string expectedDomain =
        parsed->domain.empty() || parsed->domain == "index.docker.io" ? "docker.io" : parsed->domain;
    FUZZ_CHECK(n->compare(0, expectedDomain.size() + 1, expectedDomain + "/") == 0, "'%s' does not start with '%s/'",
               n->c_str(), expectedDomain.c_str());
    FUZZ_CHECK(!parsed->tag.empty() || !parsed->digest.empty() || (n->size() >= 7 && n->compare(n->size() - 7, 7, ":latest") == 0),
               "'%s' has neither tag nor digest", n->c_str());
    std::string stem = msb::MetadataFileStem(*n);
    FUZZ_CHECK(stem.size() == 64 && IsLowerHex(stem), "metadata stem '%s'", stem.c_str());

    std::optional<std::string> again = msb::NormalizeReference(*n);
    if (again) {
      FUZZ_CHECK(*again == *n, "not idempotent: '%s' -> '%s'", n->c_str(), again->c_str());
    } else {
      // The one accepted exception (see the header comment).
      std::string_view first = std::string_view(parsed->path).substr(0, parsed->path.find('/'));
      FUZZ_CHECK(parsed->domain.empty() && parsed->path.find('/') != std::string::npos && HasUpper(first),
                 "'%s' normalizes to '%s', which does not normalize", std::string(ref).c_str(), n->c_str());
    }
  }

  if (msb::IsValidDigest(ref)) {
    std::string stem = msb::DigestFileStem(ref);
    FUZZ_CHECK((stem.size() == 71 && stem.compare(0, 7, "sha256_") == 0) ||
                   (stem.size() == 135 && stem.compare(0, 7, "sha512_") == 0),
               "digest file stem '%s'", stem.c_str());
    FUZZ_CHECK(IsLowerHex(std::string_view(stem).substr(7)), "digest file stem '%s'", stem.c_str());
    std::optional<msb::ParsedReference> withDigest = msb::ParseReference("x@" + std::string(ref));
    FUZZ_CHECK(withDigest && withDigest->digest == ref, "valid digest rejected by the reference grammar");
  }
  return 0;
}
