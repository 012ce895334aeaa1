#!/usr/bin/env python3
# Writes a minimal docker-save archive to argv[1] for the package and platform checks (scripts/check-package.sh,
# scripts/arm64-check.sh): manifest.json + <hex>.json config + <hex>/layer.tar, two images, three tags
# (check/alpha:1 and check/alpha:latest share an image; check/beta:2). `msb load -i` takes it.
import hashlib, io, json, sys, tarfile

def tar_bytes(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files:
            info = tarfile.TarInfo(name); info.size = len(data); info.mtime = 1704067200; info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()

entries, manifest = [], []
for tags, text in ((["check/alpha:1", "check/alpha:latest"], b"alpha\n"), (["check/beta:2"], b"beta\n")):
    layer = tar_bytes([("hello.txt", text)])
    diff = hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                         "config": {"Cmd": ["/bin/sh"]}, "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff]}}).encode()
    cfg = hashlib.sha256(config).hexdigest()
    entries += [(cfg + ".json", config), (diff + "/layer.tar", layer)]
    manifest.append({"Config": cfg + ".json", "RepoTags": tags, "Layers": [diff + "/layer.tar"]})
entries.append(("manifest.json", json.dumps(manifest).encode()))
open(sys.argv[1], "wb").write(tar_bytes(entries))
