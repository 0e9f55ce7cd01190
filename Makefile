# fstrace — build, generate, test.
#
#   make            build ./fstrace
#   make test       unit tests, and the integration tests that can run here
#   make unit       unit tests only (check runs the integration tests itself)
#   make lint       golangci-lint (.golangci.yml), the version tools/go.mod pins
#   make race       the library's tests under the race detector (as root they
#                   trace on this kernel: Close racing every other call)
#   make fuzz       each fuzz target for FUZZTIME (10s); crashers stay in testdata/fuzz
#   make hosttest   integration tests on this kernel, as root, in syscall mode
#   make vmtest     integration tests in QEMU guests on kernels 5.10 6.1 6.12 7.2,
#                   each in every hook mode (VMTEST_MODES="fentry kprobe syscall")
#   make lint-c     the BPF sources' layout, checked with clang-format-14
#   make check      what follows, after installing the packages it needs (deps):
#                   lint-c + lint + generated code up to date + unit + deploy-test + race + fuzz + hosttest +
#                   vmtest (CI; as root)
#   make image      the container image (Containerfile) with podman or buildah
#   make image-test the image's contract, and a run of it with runc tracing the host
#   make deploy-test  deploy/kubernetes: the manifests decoded strictly into the
#                   Kubernetes API's types and held to fstrace's flags
#   make deps       install the distribution packages check needs (scripts/deps.sh:
#                   as root with apt-get; otherwise one line saying what to install)
#   make generate   rebuild the BPF objects and Go bindings (needs clang)
#   make bench      the benchmark table of BENCHMARKS.md on this machine (root;
#                   installs the peer tools it compares with)
#   make bench-vm   the per-hook-mode figures in the QEMU guests
GO ?= go

# Go's installer puts it in /usr/local/go/bin, which sudo's PATH lacks
# ('sudo make check'); the tests run go themselves, so PATH, not just GO.
ifeq ($(shell command -v $(GO)),)
export PATH := $(PATH):/usr/local/go/bin
endif

.PHONY: all build image image-test deps deps-test deploy-test generate check-generate lint-c lint test unit race fuzz hosttest check bench
.DEFAULT_GOAL := build

all: build

# Without cgo: fstrace drops its capabilities from every thread once
# attached, which a cgo program cannot (pkg/tracer/caps.go).
build:
	CGO_ENABLED=0 $(GO) build -o fstrace ./cmd/fstrace

# The container image (Containerfile), with podman or buildah.
IMAGE ?= fstrace:latest
image:
	@scripts/image.sh $(IMAGE)

# The image built, unpacked with umoci, held to its contract and run with
# runc as a host agent tracing a process outside it (vmtests TestImage).
IMAGE_DIR = vmtests/.cache/image
image-test:
	@scripts/deps.sh image
	rm -rf $(IMAGE_DIR) && mkdir -p $(IMAGE_DIR)
	scripts/image.sh fstrace:test $(IMAGE_DIR)/oci
	umoci unpack --image $(IMAGE_DIR)/oci:test $(IMAGE_DIR)/bundle >/dev/null
	FSTRACE_IMAGE_OCI=$(CURDIR)/$(IMAGE_DIR)/oci FSTRACE_IMAGE_BUNDLE=$(CURDIR)/$(IMAGE_DIR)/bundle FSTRACE_REQUIRE_IMAGE=1 \
		$(GO) test -count=1 -v -run '^TestImage$$' ./vmtests

# FSTRACE_DEPS=check only reports what is missing, =skip does not look.
deps:
	@scripts/deps.sh

# The report and the refusal of deps, on a fake package (fast, installs nothing).
deps-test:
	@scripts/deps_test.sh

generate:
	@scripts/deps.sh generate
	$(GO) generate ./pkg/tracer/

# Fails when the committed BPF objects do not match the sources.
check-generate: generate
	@git diff --quiet --exit-code -- pkg/tracer/ || { \
		echo "generated BPF objects are stale: run 'make generate' and commit them" >&2; \
		git --no-pager diff --stat -- pkg/tracer/ >&2; exit 1; }

# The BPF sources laid out as .clang-format says (clang-format -i to fix).
CLANG_FORMAT ?= clang-format-14
BPF_SOURCES = $(wildcard bpf/*.c bpf/*.h bpf/lib/*.h)
lint-c:
	@scripts/deps.sh lint-c
	$(CLANG_FORMAT) --dry-run --Werror $(BPF_SOURCES)

test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...

unit:
	$(GO) vet ./...
	$(GO) test -count=1 $$($(GO) list ./... | grep -v '/vmtests$$')

# golangci-lint (.golangci.yml) at the version tools/go.mod pins: a module of
# its own, so that fstrace's go.mod does not carry its dependencies. Built
# into TOOLS_CACHE (gitignored) the first time, which takes minutes, and then
# only when missing: the version is in the file's name, so a new pin builds
# anew. GOLANGCI_LINT=/path/to/golangci-lint runs one already built instead.
TOOLS_CACHE ?= .cache/tools
GOLANGCI_LINT_VERSION := $(shell sed -n 's|^[[:space:]]*github.com/golangci/golangci-lint/v2 \(v[^ ]*\).*|\1|p' tools/go.mod)
GOLANGCI_LINT_BIN = $(TOOLS_CACHE)/golangci-lint-$(GOLANGCI_LINT_VERSION)
GOLANGCI_LINT ?=
$(GOLANGCI_LINT_BIN):
	$(GO) build -modfile=tools/go.mod -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint
# The linter to run: GOLANGCI_LINT as given, else the pinned build, by an
# absolute path so that it also runs from deploy/kubernetes.
LINT_RUN = $(or $(GOLANGCI_LINT),$(abspath $(GOLANGCI_LINT_BIN))) run
lint: $(if $(GOLANGCI_LINT),,$(GOLANGCI_LINT_BIN))
	$(LINT_RUN) ./...
	cd deploy/kubernetes && $(LINT_RUN) --config ../../.golangci.yml ./...

# Its own module (deploy/kubernetes/go.mod), so that the main one does not
# depend on k8s.io; go vet ./... and go test ./... here do not enter it.
deploy-test:
	cd deploy/kubernetes && $(GO) vet ./... && $(GO) test -count=1 ./...

# The race detector needs cgo; clang is what the BPF build installs anyway.
race:
	@scripts/deps.sh race
	CGO_ENABLED=1 CC=clang $(GO) test -race -count=1 ./pkg/...

# The decoder, the JSON strings, the filter files, the command line.
FUZZTIME ?= 10s
FUZZ_TARGETS = ./pkg/events:FuzzDecode ./pkg/events:FuzzJSONString ./pkg/filters:FuzzParse ./cmd/fstrace:FuzzParseArgs
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) $${t%%:*}; \
	done

# The integration tests on this machine's own kernel, as root, in syscall
# mode: they must run, not skip.
hosttest:
	@scripts/deps.sh hosttest
	FSTRACE_MODES=syscall FSTRACE_REQUIRE=1 FSTRACE_STOP_ROUNDS=100 FSTRACE_SOAK=1m $(GO) test -count=1 -v ./vmtests

# hosttest and vmtest run the integration tests: unit, not test, before them.
check: deps deps-test lint-c lint check-generate unit deploy-test image-test race fuzz hosttest vmtest
# image-test runs first and leaves the image for the guests.
check: VMTEST_IMAGE_DIR = $(CURDIR)/$(IMAGE_DIR)

# Timings stay out of check: this kind of machine is shared and noisy.
bench:
	bench/run.sh

# ===========================================================================
# VM tests (vmtests/): boot Debian kernels in QEMU (software emulation) and run
# the integration tests inside them. Self-contained section but for
# scripts/deps.sh, which installs what the host needs besides go and apt:
# qemu-system-x86, busybox-static, cpio. See vmtests/README.md.
#
#   make vmtest                      all four kernels
#   make vmtest KERNELS="5.10 7.2"   a subset
#   make vmtest VMTEST_RUN=TestOpen  only matching tests (-test.run)
# ===========================================================================
KERNELS         ?= 5.10 6.1 6.12 7.2
# Test packages to build into guest binaries; ./vmtests -> integration.test,
# others -> path-with-dashes.test (./pkg/tracer -> pkg-tracer.test).
VMTEST_PKGS     ?= ./vmtests
VMTEST_RUN      ?=
VMTEST_MODES    ?= fentry kprobe syscall
VMTEST_TESTFLAGS ?=
VMTEST_TIMEOUT  ?= 2700
# Guests booted side by side: each keeps one host CPU busy (single-threaded
# emulation), so two halve the suite's time on a 2-CPU machine.
VMTEST_JOBS     ?= 2
# The image make image-test unpacked, for TestImage in the guests (check sets it).
VMTEST_IMAGE_DIR ?=
VMTEST_GOFLAGS  ?= -trimpath
# Targets to make before building the guest binaries (e.g. generate).
VMTEST_PREREQS  ?=
VMTEST_CACHE    := vmtests/.cache
GO              ?= go

.PHONY: vmtest vmtest-kernels vmtest-bins vmtest-clean bench-vm

vmtest: vmtest-kernels vmtest-bins
	VMTEST_RUN='$(VMTEST_RUN)' VMTEST_TESTFLAGS='$(VMTEST_TESTFLAGS)' VMTEST_MODES='$(VMTEST_MODES)' \
	VMTEST_TIMEOUT='$(VMTEST_TIMEOUT)' VMTEST_JOBS='$(VMTEST_JOBS)' VMTEST_IMAGE_DIR='$(VMTEST_IMAGE_DIR)' vmtests/run-all.sh $(KERNELS)

vmtest-kernels:
	@scripts/deps.sh vmtest
	vmtests/fetch-kernels.sh $(KERNELS)

# Static binaries: the guest's initramfs has no libc.
vmtest-bins: $(VMTEST_PREREQS)
	rm -rf $(VMTEST_CACHE)/bin
	mkdir -p $(VMTEST_CACHE)/bin
	CGO_ENABLED=0 $(GO) build $(VMTEST_GOFLAGS) -o $(VMTEST_CACHE)/bin/fstrace ./cmd/fstrace
	set -e; for p in $(VMTEST_PKGS); do \
		n=$$(echo "$$p" | sed -e 's|^\./||' -e 's|/$$||' -e 's|/|-|g'); \
		[ "$$n" = vmtests ] && n=integration; \
		CGO_ENABLED=0 $(GO) test -c $(VMTEST_GOFLAGS) -o $(VMTEST_CACHE)/bin/$$n.test $$p; \
	done

# Timings of the hook modes in the guests (bench/vm.sh); not part of check.
bench-vm:
	bench/vm.sh $(KERNELS)

# Keeps the kernel cache ($FSTRACE_KERNEL_CACHE), which is expensive to refill.
vmtest-clean:
	rm -rf $(VMTEST_CACHE)

# Never let a bare 'make' boot VMs: if this section came first, hand the
# default goal to the next target defined below.
ifneq ($(filter $(.DEFAULT_GOAL),vmtest vmtest-kernels vmtest-bins vmtest-clean),)
.DEFAULT_GOAL :=
endif
# ======================= end of VM tests section ===========================
