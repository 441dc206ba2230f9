# The toolkit's commands. The two a newcomer needs:
#   make site   install what is needed, bring up the lab, apply the registry to it
#   make test   install what is needed, lint, run every test
SHELL := /bin/bash
VENV := .venv/bin
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf
INVENTORY ?= inventory/lab
PYTEST_ARGS ?=

.PHONY: help install validate reference lab lab-stop lab-down site test lint unit bench lab-image molecule

help:
	@sed -n 's/^#   //p' Makefile

install:
	@scripts/install-deps.sh

validate: install
	bin/registry-validate --summary

# The auditors' field reference, generated from the JSON Schemas and city.yml.
reference: install
	bin/registry-reference --output docs/registry-reference.md

lab: install
	ansible-playbook -i $(INVENTORY) playbooks/lab.yml

lab-stop: install
	ansible-playbook -i $(INVENTORY) playbooks/lab.yml -e lab__state=stopped

lab-down: install
	ansible-playbook -i $(INVENTORY) playbooks/lab.yml -e lab__state=absent

site: install
	@if [ "$(INVENTORY)" = inventory/lab ]; then ansible-playbook -i $(INVENTORY) playbooks/lab.yml; fi
	ansible-playbook -i $(INVENTORY) playbooks/site.yml

lint: install
	yamllint --strict .
	ansible-lint --profile production

unit: install
	pytest -q -m "not lab" $(PYTEST_ARGS)

test: install lint molecule
	pytest -q $(PYTEST_ARGS)

# Every benchmark, each printing its table (about an hour: the mail one hashes
# 40,000 argon2 passwords). One alone: make bench BENCHES=bench/dns_bench.py
BENCHES ?= bench/validate_bench.py bench/dns_bench.py bench/mail_bench.py bench/sms_bench.py
bench: install
	@rc=0; for b in $(BENCHES); do echo "== $$b"; python $$b || rc=1; done; exit $$rc

# The lab's base image only (built once; no containers, no secrets). The
# lab_hosts play is outside --limit localhost, so no lab host is needed.
lab-image: install
	ansible-playbook -i inventory/lab playbooks/lab.yml --limit localhost \
	  -e '{"lab__hosts": []}' -e lab__generate_secrets=false

# Molecule scenarios of the roles, on the lab's base image (podman, runc).
molecule: install lab-image
	cd roles/dns_server && molecule test
	cd roles/ldap_directory && molecule test
	cd roles/sms_gateway && molecule test
