#include "formats/vmdk.h"

namespace msb {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');
  }
  *out = v;
  return true;
}

std::string_view NextToken(std::string_view* s) {
  *s = Trim(*s);
  size_t end = s->find_first_of(" \t");
  std::string_view tok = s->substr(0, end);
  s->remove_prefix(end == std::string_view::npos ? s->size() : end);
  return tok;
}

// `ACCESS SECTORS TYPE ["PATH" [OFFSET]]`
bool ParseExtent(std::string_view line, VmdkExtent* e, std::string* error) {
  std::string_view rest = line;
  e->access = std::string(NextToken(&rest));
  if (!ParseU64(NextToken(&rest), &e->sectors)) {
    *error = "extent with a bad sector count: " + std::string(line);
    return false;
  }
  e->type = std::string(NextToken(&rest));
  rest = Trim(rest);
  if (rest.empty()) return true;  // ZERO extents have no file
  if (rest.front() != '"') {
    *error = "extent path is not quoted: " + std::string(line);
    return false;
  }
  size_t close = rest.rfind('"');
  if (close == 0) {
    *error = "extent path is not terminated: " + std::string(line);
    return false;
  }
  e->path = std::string(rest.substr(1, close - 1));
  rest = Trim(rest.substr(close + 1));
  if (!rest.empty() && !ParseU64(rest, &e->offset)) {
    *error = "extent with a bad offset: " + std::string(line);
    return false;
  }
  return true;
}

}  // namespace

VmdkDescriptor ParseVmdk(std::string_view text) {
  VmdkDescriptor d;
  if (text.size() > kMaxVmdkDescriptorBytes) {
    d.error = "descriptor is too large";
    return d;
  }
  if (text.find('\0') != std::string_view::npos) {
    d.error = "not a text descriptor";
    return d;
  }
  bool sawHeader = false;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    std::string_view line = Trim(text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    start = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    if (line.empty()) continue;
    if (line.front() == '#') {
      if (line == "# Disk DescriptorFile") sawHeader = true;
      continue;
    }
    if (line.substr(0, 3) == "RW " || line.substr(0, 7) == "RDONLY " || line.substr(0, 9) == "NOACCESS ") {
      VmdkExtent e;
      if (!ParseExtent(line, &e, &d.error)) return d;
      // Sizes travel to JS as doubles: refuse totals past 2^53 bytes rather than wrap or round.
      constexpr uint64_t kMaxBytes = uint64_t(1) << 53;
      if (e.sectors > kMaxBytes / 512 || d.virtualBytes + e.sectors * 512 > kMaxBytes) {
        d.error = "extent sizes add up to more than 2^53 bytes";
        return d;
      }
      d.virtualBytes += e.sectors * 512;
      d.extents.push_back(std::move(e));
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      d.error = "unexpected line: " + std::string(line);
      return d;
    }
    std::string_view key = Trim(line.substr(0, eq)), value = Trim(line.substr(eq + 1));
    if (key == "createType") {
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      d.createType = std::string(value);
    }
  }
  if (!sawHeader) {
    d.error = "missing '# Disk DescriptorFile' header";
    return d;
  }
  if (d.extents.empty()) {
    d.error = "descriptor has no extents";
    return d;
  }
  d.ok = true;
  return d;
}

}  // namespace msb
