# -*- coding: utf-8 -*-
# Copyright: Tabiri Homelab
# Mozilla Public License 2.0 (see https://mozilla.org/MPL/2.0/)
"""Run the module binary built for the target's CPU.

Ansible does nothing about the target's architecture: it copies whatever file it finds for a
module. This collection ships its Rust modules as static binaries for two CPUs:

    plugins/modules/<name>                 x86_64 (where Ansible looks for tabiri.homelab.<name>)
    plugins/modules/bin/aarch64/<name>     aarch64 (module tabiri.homelab.bin.aarch64.<name>)

Each module has a thin action plugin plugins/action/<name>.py built on ArchDispatchAction. It
finds the target's `uname -m` and hands the matching module name to ActionBase._execute_module,
the same call Ansible's own `normal` action makes. Ansible then does everything as usual: temp
dir, args file, become, check mode, diff, no_log, async and cleanup.

The architecture is looked up, cheapest first:
  1. connection: local (and delegate_to: localhost): the target is the controller, so
     platform.machine();
  2. the host's facts: `ansible_facts.architecture` (gather_facts) or `tabiri_homelab_arch`, which
     this plugin sets after its own probe, so a host is probed once per playbook run;
  3. `uname -m` on the target (one extra command, without become).
Delegated tasks skip 2 (those facts belong to the inventory host, not to the delegate) and
never cache.
"""

from __future__ import annotations

import platform

from ansible.plugins.action import ActionBase
from ansible.plugins.connection.local import Connection as LocalConnection
from ansible.utils.vars import merge_hash

# `uname -m` spellings -> the architecture names the collection's binaries are built for.
ARCH_ALIASES = {
    'x86_64': 'x86_64',
    'amd64': 'x86_64',
    'aarch64': 'aarch64',
    'arm64': 'aarch64',
}
# The architecture whose binaries sit at plugins/modules/<name>; the others are in bin/<arch>/.
DEFAULT_ARCH = 'x86_64'
# Host fact caching the probe's result.
ARCH_FACT = 'tabiri_homelab_arch'


class _DispatchError(Exception):
    """No binary can run on the target; the task fails with this message."""


class ArchDispatchAction(ActionBase):
    """Action plugin base: runs tabiri.homelab.<name> or tabiri.homelab.bin.<arch>.<name>."""

    _supports_check_mode = True  # the binaries implement check mode themselves
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp  # unused, like in every action plugin since ansible 2.5

        try:
            module, machine, new_fact = self._select_module(task_vars)
        except _DispatchError as e:
            result.update(failed=True, msg=str(e))
            return result

        # From here on exactly what ansible.builtin.normal does.
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result = merge_hash(result, self._execute_module(
            module_name=module, task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)

        if new_fact:
            result.setdefault('ansible_facts', {})[ARCH_FACT] = machine
        return result

    def _select_module(self, task_vars):
        """Return the module to run, the target's `uname -m` and whether to cache it."""
        module = self._task.resolved_action or self._task.action  # tabiri.homelab.<name>
        machine, new_fact = self._target_machine(task_vars)
        arch = ARCH_ALIASES.get(machine.lower())
        if arch is None:
            supported = ', '.join(sorted(set(ARCH_ALIASES.values())))
            raise _DispatchError(
                f"{module} has no binary for this host's CPU: `uname -m` says {machine!r}; "
                f"the collection ships {supported}."
            )
        if arch != DEFAULT_ARCH:
            collection, name = module.rsplit('.', 1)
            module = f'{collection}.bin.{arch}.{name}'
            found = self._shared_loader_obj.module_loader.find_plugin_with_context(
                module, collection_list=self._task.collections)
            if not found.resolved:
                raise _DispatchError(
                    f"{module} is missing: this build of {collection} has no {arch} binaries "
                    f"(build it with scripts/build-collection.sh --targets 'x86_64 {arch}')."
                )
        return module, machine, new_fact

    def _target_machine(self, task_vars):
        """Return the target's `uname -m` and whether to cache it as a host fact."""
        if isinstance(self._connection, LocalConnection):
            # connection: local (or delegate_to: localhost) runs the module on the controller.
            return platform.machine(), False

        delegated = bool(self._task.delegate_to)
        if not delegated:
            facts = task_vars.get('ansible_facts') or {}
            for key in ('architecture', ARCH_FACT):
                if facts.get(key):
                    return str(facts[key]), False

        res = self._low_level_execute_command('uname -m', sudoable=False)
        lines = (res.get('stdout') or '').strip().splitlines()
        if res.get('rc') != 0 or not lines:
            raise _DispatchError(
                f"could not determine the CPU architecture of the target with `uname -m` "
                f"(rc={res.get('rc')}): {(res.get('stderr') or '').strip()}"
            )
        return lines[-1].strip(), not delegated
