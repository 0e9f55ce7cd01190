package tracer

// The BPF objects are generated and committed, so a plain `go build` needs
// no clang. `make generate` runs this.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target amd64 -type fst_record -type filter_cfg -type filter_val -type id_key -type comm_key -type cgroup_key -type ctr_key -type ctr_val -type path_key bpf ../../bpf/fstrace.bpf.c -- -I../../bpf

// The same programs with their loops run by bpf_loop, for kernels that have
// it (5.17+): see FST_LOOP in bpf/lib/path.h and object.go.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang -cflags "-O2 -g -Wall -Werror -DFST_LOOP" -target amd64 bpfloop ../../bpf/fstrace.bpf.c -- -I../../bpf
