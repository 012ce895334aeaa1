// libFuzzer target: the text VMDK descriptor parser (native/formats/vmdk.cc, format spec §4.2).
//
// Input: the descriptor's bytes.
//
// Properties, besides "no crash and no sanitizer report":
// - ok <=> no error; ok => the header line was there, at least one extent, every access is RW, RDONLY
//   or NOACCESS;
// - virtualBytes == Σ sectors × 512 and never exceeds 2^53 (sizes travel to JS as doubles), ok or not;
// - no extent path holds a newline or NUL (a path never spans lines);
// - a parsed descriptor written back out in msb's layout parses to the same createType and extents.
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/vmdk.h"
#include "check.h"

namespace {

constexpr uint64_t kTwoTo53 = uint64_t(1) << 53;

std::string Serialize(const msb::VmdkDescriptor& d) {
  std::string s = "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"" + d.createType +
                  "\"\n\n# Extent description\n";
  for (const msb::VmdkExtent& e : d.extents) {
    s += e.access + " " + std::to_string(e.sectors);
    // An empty type means the line ended after the sector count (so no path and no offset either).
    if (!e.type.empty()) s += " " + e.type + " \"" + e.path + "\" " + std::to_string(e.offset);
    s += "\n";
  }
  s += "\n# The Disk Data Base\n#DDB\nddb.virtualHWVersion = \"4\"\nddb.adapterType = \"ide\"\n";
  return s;
}

bool SameExtents(const msb::VmdkDescriptor& a, const msb::VmdkDescriptor& b) {
  if (a.extents.size() != b.extents.size()) return false;
  for (size_t i = 0; i < a.extents.size(); i++) {
    const msb::VmdkExtent &x = a.extents[i], &y = b.extents[i];
    if (x.access != y.access || x.sectors != y.sectors || x.type != y.type || x.path != y.path || x.offset != y.offset) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  msb::VmdkDescriptor d = msb::ParseVmdk(text);

  FUZZ_CHECK(d.ok == d.error.empty(), "ok=%d error='%s'", d.ok, d.error.c_str());
  unsigned __int128 total = 0;
  for (const msb::VmdkExtent& e : d.extents) {
    total += (unsigned __int128)e.sectors * 512;
    FUZZ_CHECK(e.path.find('\n') == std::string::npos && e.path.find('\0') == std::string::npos,
               "extent path spans lines or holds NUL");
  }
  FUZZ_CHECK(total == d.virtualBytes, "virtualBytes=%llu differs from the extents' sum", (unsigned long long)d.virtualBytes);
  FUZZ_CHECK(d.virtualBytes <= kTwoTo53, "virtualBytes=%llu exceeds 2^53", (unsigned long long)d.virtualBytes);

  if (d.ok) {
    FUZZ_CHECK(!d.extents.empty(), "ok without extents");
    FUZZ_CHECK(text.find("# Disk DescriptorFile") != std::string_view::npos, "ok without the header line");
    for (const msb::VmdkExtent& e : d.extents) {
      FUZZ_CHECK(e.access == "RW" || e.access == "RDONLY" || e.access == "NOACCESS", "access '%s'", e.access.c_str());
    }
    std::string again = Serialize(d);
    msb::VmdkDescriptor r = msb::ParseVmdk(again);
    FUZZ_CHECK(r.ok, "written back, it does not parse: %s\n%s", r.error.c_str(), again.c_str());
    FUZZ_CHECK(r.createType == d.createType && SameExtents(d, r) && r.virtualBytes == d.virtualBytes,
               "written back, it parses differently:\n%s", again.c_str());
  }
  return 0;
}
