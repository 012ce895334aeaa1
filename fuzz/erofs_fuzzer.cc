// libFuzzer target: the EROFS superblock reader (native/formats/erofs.cc, format spec §4.1).
//
// Input: 8 bytes little-endian = the file's length, then the file's first bytes. The file is the
// data followed by zeros up to that length (a sparse file), so a 4 KiB seed taken from the head of
// a real multi-megabyte layer still describes the whole layer. A length below the data's size
// means the data's size.
//
// Properties, besides "no crash and no sanitizer report":
// - the reader never asks for a byte outside [0, length);
// - valid <=> no problem; valid => blkszbits in 9..16, length > 0 and a multiple of 4096,
//   imageBytes == blocks << blkszbits == length, the magic is there and the root inode is a directory;
// - with a good magic and block size, imageBytes == blocks << blkszbits whether valid or not, and every
//   field is the one at its spec offset;
// - the device table is read whole (extra_devices slots) when it lies inside the file and has at most
//   kMaxErofsDevices slots, else not at all;
// - InspectErofsFd on a memfd holding the same file returns the same result (lengths up to 1 GiB).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "formats/erofs.h"
#include "check.h"

namespace {

uint16_t Le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t Le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

struct VirtualFile {
  const uint8_t* data;
  size_t dataSize;
  uint64_t length;

  // Bytes [offset, offset + size) of the file (zeros past the data); false past its end.
  bool Read(uint64_t offset, void* out, size_t size) const {
    if (offset > length || size > length - offset) return false;
    std::memset(out, 0, size);
    if (offset < dataSize) std::memcpy(out, data + offset, std::min<uint64_t>(size, dataSize - offset));
    return true;
  }
};

bool Same(const msb::ErofsInfo& a, const msb::ErofsInfo& b) {
  if (a.valid != b.valid || a.problem != b.problem || a.imageBytes != b.imageBytes || a.blkszbits != b.blkszbits ||
      a.blocks != b.blocks || a.rootNid != b.rootNid || a.metaBlkaddr != b.metaBlkaddr ||
      a.featureIncompat != b.featureIncompat || a.devices.size() != b.devices.size()) {
    return false;
  }
  for (size_t i = 0; i < a.devices.size(); i++) {
    if (a.devices[i].blocks != b.devices[i].blocks || a.devices[i].mappedBlkaddr != b.devices[i].mappedBlkaddr) return false;
  }
  return true;
}

// The same file on a memfd: the data, then ftruncate to the length (the tail reads as zeros).
bool InspectViaFd(const VirtualFile& f, msb::ErofsInfo* out) {
  int fd = memfd_create("erofs-fuzz", MFD_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ftruncate(fd, off_t(f.length)) == 0;
  size_t done = 0;
  while (ok && done < f.dataSize) {
    ssize_t n = pwrite(fd, f.data + done, f.dataSize - done, off_t(done));
    ok = n > 0;
    if (ok) done += size_t(n);
  }
  if (ok) *out = msb::InspectErofsFd(fd);
  close(fd);
  return ok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* input, size_t size) {
  uint64_t declared = 0;
  for (size_t i = 0; i < 8 && i < size; i++) declared |= uint64_t(input[i]) << (8 * i);
  const uint8_t* data = size > 8 ? input + 8 : input + size;
  size_t dataSize = size > 8 ? size - 8 : 0;
  VirtualFile file{data, dataSize, std::max<uint64_t>(declared, dataSize)};

  msb::ErofsInfo info = msb::InspectErofs(
      [&file](uint64_t offset, void* buf, size_t n) -> long {
        FUZZ_CHECK(file.Read(offset, buf, n), "read of %zu bytes at %llu from a file of %llu bytes", n,
                   (unsigned long long)offset, (unsigned long long)file.length);
        return long(n);
      },
      file.length);

  FUZZ_CHECK(info.valid == info.problem.empty(), "valid=%d problem='%s'", info.valid, info.problem.c_str());

  uint8_t sb[128];
  bool haveSb = file.Read(msb::kErofsSuperblockOffset, sb, sizeof sb);
  bool magic = haveSb && Le32(sb) == msb::kErofsMagic;
  bool blockSizeOk = magic && sb[0x0C] >= 9 && sb[0x0C] <= 16;
  if (blockSizeOk) {
    FUZZ_CHECK(info.blkszbits == sb[0x0C] && info.rootNid == Le16(sb + 0x0E) && info.blocks == Le32(sb + 0x24) &&
                   info.metaBlkaddr == Le32(sb + 0x28) && info.featureIncompat == Le32(sb + 0x50),
               "superblock fields differ from the bytes at their spec offsets");
    FUZZ_CHECK(info.imageBytes == uint64_t(info.blocks) << info.blkszbits, "imageBytes=%llu blocks=%u blkszbits=%u",
               (unsigned long long)info.imageBytes, info.blocks, info.blkszbits);
    uint16_t extra = Le16(sb + 0x56);
    uint64_t tableOffset = uint64_t(Le16(sb + 0x58)) * 128;
    bool tableRead = extra > 0 && extra <= msb::kMaxErofsDevices && tableOffset + uint64_t(extra) * 128 <= file.length;
    FUZZ_CHECK(info.devices.size() == (tableRead ? extra : 0), "%zu devices for extra_devices=%u (table %s)",
               info.devices.size(), extra, tableRead ? "inside the file" : "outside the file or too long");
    for (size_t i = 0; i < info.devices.size(); i++) {
      uint8_t slot[128];
      file.Read(tableOffset + i * 128, slot, sizeof slot);
      FUZZ_CHECK(info.devices[i].blocks == Le32(slot + 0x40) && info.devices[i].mappedBlkaddr == Le32(slot + 0x44),
                 "device slot %zu differs from its bytes", i);
    }
  } else {
    FUZZ_CHECK(!info.valid && info.imageBytes == 0 && info.devices.empty(), "no magic or block size, yet valid=%d",
               info.valid);
  }

  if (info.valid) {
    FUZZ_CHECK(info.blkszbits >= 9 && info.blkszbits <= 16, "blkszbits=%u", info.blkszbits);
    FUZZ_CHECK(file.length > 0 && file.length % 4096 == 0, "length=%llu", (unsigned long long)file.length);
    FUZZ_CHECK(info.imageBytes == file.length, "imageBytes=%llu length=%llu", (unsigned long long)info.imageBytes,
               (unsigned long long)file.length);
    uint64_t rootOffset = (uint64_t(info.metaBlkaddr) << info.blkszbits) + uint64_t(info.rootNid) * 32;
    uint8_t inode[6];
    FUZZ_CHECK(file.Read(rootOffset, inode, sizeof inode), "root inode at %llu outside the file",
               (unsigned long long)rootOffset);
    FUZZ_CHECK((Le16(inode + 4) & 0170000) == 0040000, "root inode mode %o is not a directory", Le16(inode + 4));
  }

  if (file.length <= (uint64_t(1) << 30)) {
    msb::ErofsInfo viaFd;
    if (InspectViaFd(file, &viaFd)) {
      FUZZ_CHECK(Same(info, viaFd), "InspectErofsFd differs: valid %d/%d, problem '%s'/'%s'", info.valid, viaFd.valid,
                 info.problem.c_str(), viaFd.problem.c_str());
    }
  }
  return 0;
}
