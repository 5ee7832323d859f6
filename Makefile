# The two set-up commands: `make demo` (the main job) and `make test` (every check CI runs).
CARGO ?= cargo

.PHONY: demo test bench bench-quick doc

demo:
	bash scripts/demo.sh

test:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test

bench:
	$(CARGO) bench --bench timers

bench-quick:
	$(CARGO) bench --bench timers -- --quick

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps
