# The two set-up commands: `make demo` (the main job) and `make test` (every check CI runs).
# `make test` also lints with every feature and runs the optional futures-io feature's tests.
CARGO ?= cargo

.PHONY: demo test bench bench-quick bench-instr doc soak footprint

demo:
	bash scripts/demo.sh

test:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test
	$(CARGO) clippy --all-targets --all-features -- -D warnings
	$(CARGO) test --features futures-io --test futures_io
	$(CARGO) test --features futures-io --doc futures_io

bench:
	$(CARGO) bench --bench timers
	$(CARGO) bench --bench latency
	$(CARGO) bench --bench sendfile
	$(CARGO) bench --bench handshake

bench-quick:
	$(CARGO) bench --bench timers -- --quick
	$(CARGO) bench --bench latency -- --quick
	$(CARGO) bench --bench sendfile -- --quick
	$(CARGO) bench --bench handshake -- --quick

# Instructions per echoed message under callgrind (benches/instr.rs): deterministic, the figure
# to iterate on; about 5 s once built. Skips, exit 0, where valgrind is missing.
bench-instr:
	$(CARGO) bench --bench instr
	$(CARGO) bench --bench instr -- --conns 64

# With every feature, so the futures-io impls are documented too, and without TLS (the default
# feature) so links to TLS-only items stay out of docs that build without it.
# Warnings denied, and no checklist id (S12, L86, ...) in the rendered public docs. The full
# build goes last: it is the one left in target/doc to read (and that the id check scans).
doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --no-default-features
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --all-features
	bash scripts/check_doc_ids.sh

# Not part of `make test`: echo_server (TCP and TLS) under mixed load, SOAK_SECONDS (default 60).
soak:
	bash scripts/soak.sh

# Issue #9's "Footprint, measured": crates, clean release build time and stripped size of two
# programs written with this crate, with tokio and with blocking std (benches/footprint/run.sh).
footprint:
	bash benches/footprint/run.sh
