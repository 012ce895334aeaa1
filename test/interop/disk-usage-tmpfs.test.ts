// disk-usage.test.ts again, every home on tmpfs: there the walk lstats each entry and reads each VMDK
// descriptor as it lists it (cache_walk.cc ListDir), where on the disk the project's temp dir is on it does
// both in passes after the listing (StatAll, ReadDescriptors).
import "../support/homes-on-tmpfs";
import "./disk-usage.test";
