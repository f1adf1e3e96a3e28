# The two commands a newcomer needs (see README):
#   make demo   set up a runtime-only environment and fuse the bundled sample faces on the CPU
#   make test   set up the full environment (export + dev extras) and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := -c constraints-cpu.txt

.PHONY: demo test install install-dev bench quality train mutation clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q $(CONSTRAINTS) -e .

install-dev: $(BIN)/python
	$(BIN)/pip install -q $(CONSTRAINTS) -e '.[export,dev,bench]'
	# the tritonserver binary for the Triton tests; --no-deps: see the dev extra in setup.cfg
	$(BIN)/pip install -q --no-deps nvidia-pytriton==0.7.0

demo: install
	mkdir -p out
	$(BIN)/fuse-trt fuse sample:grace_hopper sample:astronaut -o out/fused.jpg
	$(BIN)/fuse-trt fuse sample:grace_hopper sample:astronaut -o out/fused-composite.jpg --refine none

test: install-dev
	$(BIN)/pytest -q

bench: install-dev
	$(BIN)/python benchmarks/run_cpu_bench.py

quality: install-dev
	$(BIN)/python docs/make_quality_report.py

# Mutation testing of the engine's core (benchmarks/mutation/README.md); not part of `make test`.
# Rewrites docs/mutation.md and docs/mutation.json.
mutation: install-dev
	nice -n 19 $(BIN)/python benchmarks/mutation/run.py

train: install-dev
	$(BIN)/fuse-trt train -o fuse_trt/models/default

clean:
	rm -rf $(VENV) out build *.egg-info
