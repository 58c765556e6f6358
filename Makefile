# The entry points of the README: `make demo` walks every step against local stand-ins, `make run`
# opens the wizard, `make test` runs every check. Each creates the virtual environment (.venv) on
# first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The tests' stand-in for the operator's edx/configuration virtualenv (ansible 2.10, as pinned
# by open-release/quince), beside the wizard's own ansible-core.
ANSIBLE210 ?= .venv-ansible210
REPO ?= secure-config
DEMO ?= demo-secure-config

.PHONY: demo demo-stop run test lint bench clean

# System tools the tests drive for real, as tool:Debian package (git for the secure repo, tmux for
# the terminal test, a throwaway MariaDB and a second sshd for the database step and its tunnel).
SYSTEM_TOOLS := git:git tmux:tmux bash:bash mariadbd:mariadb-server \
	mariadb-install-db:mariadb-server sshd:openssh-server ssh-keygen:openssh-client

$(BIN)/.installed: pyproject.toml constraints.txt
	@export PATH="$$PATH:/usr/sbin:/sbin"; missing=""; \
	for pair in $(SYSTEM_TOOLS); do \
		command -v $${pair%%:*} >/dev/null || case " $$missing " in *" $${pair#*:} "*) ;; *) missing="$$missing $${pair#*:}";; esac; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
		else echo "please install:$$missing" >&2; exit 1; fi; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

# Building ansible 2.10.7 from its sdist takes minutes once; pip's wheel cache makes it ~40 s after.
$(ANSIBLE210)/bin/.installed: constraints-ansible210.txt
	$(PYTHON) -m venv $(ANSIBLE210)
	$(ANSIBLE210)/bin/python -m pip install --quiet --no-compile -c constraints-ansible210.txt \
		ansible==2.10.7 'jinja2<3.1' 'markupsafe<2.1'
	touch $@

# The demo's stand-ins come from .[test] (moto's server) and the system tools above; its playbooks
# run with the wizard's own ansible-core, so .venv-ansible210 is not needed.
demo: $(BIN)/.installed
	$(BIN)/analytics-wizard demo $(DEMO)

demo-stop: $(BIN)/.installed
	$(BIN)/analytics-wizard demo --stop $(DEMO)

run: $(BIN)/.installed
	$(BIN)/analytics-wizard $(REPO)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Two workers (the machines have two cores; most tests wait on terraform, ansible or a server),
# a whole module per worker so module-scoped fixtures (one terraform apply) are shared.
TEST_WORKERS ?= 2

test: lint $(ANSIBLE210)/bin/.installed
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: $(BIN)/.installed $(ANSIBLE210)/bin/.installed
	$(BIN)/python bench/startup
	$(BIN)/python bench/status
	$(BIN)/python bench/prereqs
	$(BIN)/python bench/keys
	$(BIN)/python bench/playbooks
	$(BIN)/python bench/liveview

clean:
	rm -rf $(VENV) $(ANSIBLE210) build dist .pytest_cache .mypy_cache .ruff_cache
