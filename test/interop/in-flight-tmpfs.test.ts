// in-flight.test.ts again, every home on tmpfs: there the guard reads a fresh cache's metadata files behind
// the listing as it goes (in_flight.cc ReadAsListed), where on the disk the project's temp dir is on it reads
// them after it.
import "../support/homes-on-tmpfs";
import "./in-flight.test";
