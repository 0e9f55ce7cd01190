package tracer

// The BPF objects are generated and committed, so a plain `go build` needs
// no clang. `make generate` runs this.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target amd64 -type fst_record -type filter_cfg -type filter_val -type id_key -type comm_key -type cgroup_key -type path_key bpf ../../bpf/fstrace.bpf.c -- -I../../bpf
