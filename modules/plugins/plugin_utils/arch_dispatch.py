# -*- coding: utf-8 -*-
# Copyright: Tabiri Homelab
# Mozilla Public License 2.0 (see https://mozilla.org/MPL/2.0/)
"""Run the module binary built for the target's CPU, copied to the target once, not per task.

Ansible does nothing about the target's architecture: it copies whatever file it finds for a
module. This collection ships its Rust modules as static binaries for two CPUs:

    plugins/modules/<name>                 x86_64 (where Ansible looks for tabiri.homelab.<name>)
    plugins/modules/bin/aarch64/<name>     aarch64 (module tabiri.homelab.bin.aarch64.<name>)

Each module has a thin action plugin plugins/action/<name>.py built on ArchDispatchAction.

Choosing the binary. The target's architecture is looked up, cheapest first:
  1. connection: local (and delegate_to: localhost): the target is the controller, so
     platform.machine();
  2. the host's facts: `ansible_facts.architecture` (gather_facts) or `tabiri_homelab_arch`, which
     this plugin sets after its own probe, so a host is probed once per playbook run;
  3. `uname -m` on the target (one extra command, without become).
Delegated tasks skip 2 (those facts belong to the inventory host, not to the delegate) and
never cache.

Running it: the binary cache. Ansible never pipelines binary modules; for every task it makes
a temp dir, uploads the binary and an args file, chmods them, runs the binary and deletes the
dir: four round trips and the whole binary each time. This plugin instead keeps each binary
on the target under `<remote_tmp>/tabiri-homelab/<name>-<sha256 prefix>` (directory mode 0700,
found by the same probe and cached in the fact `tabiri_homelab_bin_dirs`, one entry per remote
user and remote_tmp, as plays may log in as different users) and runs it with its
arguments on stdin: one round trip per task, and the arguments never touch the target's disk.
A missing or outdated binary is uploaded through stdin and older versions of that module are
removed. Ansible's internal arguments (check mode, diff, no_log, verbosity) are built by
Ansible's own ActionBase._update_module_args, exactly as for the standard path.

The standard path (ActionBase._execute_module, what ansible.builtin.normal does) is used where
the cache cannot be: `async` tasks, delegated tasks, become to an unprivileged user (who cannot
read the remote user's 0700 cache), become methods and connections without stdin support
(`su`, for example), and whenever the variable `tabiri_homelab_binary_cache` is false.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shlex

from ansible.plugins.action import ActionBase
from ansible.plugins.connection.local import Connection as LocalConnection
from ansible.utils.vars import merge_hash
from ansible.vars.clean import remove_internal_keys

try:  # ansible-core >= 2.19 serialises module arguments through a profile
    from ansible.module_utils.common.json import Direction, get_module_encoder
except ImportError:  # ansible-core 2.16 - 2.18
    Direction = get_module_encoder = None

# `uname -m` spellings -> the architecture names the collection's binaries are built for.
ARCH_ALIASES = {
    'x86_64': 'x86_64',
    'amd64': 'x86_64',
    'aarch64': 'aarch64',
    'arm64': 'aarch64',
}
# The architecture whose binaries sit at plugins/modules/<name>; the others are in bin/<arch>/.
DEFAULT_ARCH = 'x86_64'
# Host facts caching the probe's results.
ARCH_FACT = 'tabiri_homelab_arch'
BIN_DIR_FACT = 'tabiri_homelab_bin_dirs'
# Task variable that turns the binary cache off (true by default).
CACHE_SWITCH_VAR = 'tabiri_homelab_binary_cache'
# Directory under remote_tmp holding the cached binaries.
CACHE_SUBDIR = 'tabiri-homelab'
# Exit status of the run command when the cached binary is not there. Module binaries exit 0
# or 1 and the shell uses 126/127, so 86 means only this.
CACHE_MISS_RC = 86
# Serialisation profile Ansible uses for binary modules (ansible-core >= 2.19).
BINARY_MODULE_PROFILE = 'legacy'


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

        use_cache = self._binary_cache_usable(task_vars)
        try:
            target = self._probe_target(task_vars, want_bin_dir=use_cache)
            module = self._select_module(target['machine'])
        except _DispatchError as e:
            result.update(failed=True, msg=str(e))
            return result

        if use_cache:
            result = merge_hash(result, self._run_cached(module, target['bin_dir'], task_vars))
        else:
            # Exactly what ansible.builtin.normal does.
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result = merge_hash(result, self._execute_module(
                module_name=module, task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)

        if target['new_facts']:
            result.setdefault('ansible_facts', {}).update(target['new_facts'])
        return result

    # -- choosing the binary -----------------------------------------------------------------

    def _select_module(self, machine):
        """Return the module name of the binary for `uname -m` == machine."""
        module = self._task.resolved_action or self._task.action  # tabiri.homelab.<name>
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
            if self._module_file(module) is None:
                raise _DispatchError(
                    f"{module} is missing: this build of {collection} has no {arch} binaries "
                    f"(build it with scripts/build-collection.sh --targets 'x86_64 {arch}')."
                )
        return module

    def _module_file(self, module):
        """The controller-side path of a module, or None."""
        found = self._shared_loader_obj.module_loader.find_plugin_with_context(
            module, collection_list=self._task.collections)
        return found.plugin_resolved_path if found.resolved else None

    def _probe_target(self, task_vars, want_bin_dir):
        """Find the target's `uname -m` and, if wanted, the absolute cache directory.

        Returns {'machine', 'bin_dir', 'new_facts'}; the facts learnt by running a command are
        returned so the host is probed once per playbook run.
        """
        delegated = bool(self._task.delegate_to)
        facts = {} if delegated else (task_vars.get('ansible_facts') or {})
        machine = None
        if isinstance(self._connection, LocalConnection):
            # connection: local (or delegate_to: localhost) runs the module on the controller.
            machine = platform.machine()
        else:
            for key in ('architecture', ARCH_FACT):
                if facts.get(key):
                    machine = str(facts[key])
                    break
        remote_tmp = self.get_shell_option('remote_tmp', default='~/.ansible/tmp').rstrip('/')
        # The same remote_tmp is another directory for another remote user.
        bin_dir_key = f'{self._get_remote_user() or ""}:{remote_tmp}'
        known_dirs = facts.get(BIN_DIR_FACT)
        known_dirs = dict(known_dirs) if isinstance(known_dirs, dict) else {}
        bin_dir = known_dirs.get(bin_dir_key) if want_bin_dir else None
        if machine and (bin_dir or not want_bin_dir):
            return {'machine': machine, 'bin_dir': bin_dir, 'new_facts': {}}

        # One command, without become, answers both questions.
        cmd = 'uname -m'
        if want_bin_dir:
            cache_dir = self._shell_path(f'{remote_tmp}/{CACHE_SUBDIR}')
            cmd += f' && umask 077 && mkdir -p {cache_dir} && cd {cache_dir} && pwd'
        res = self._low_level_execute_command(cmd, sudoable=False)
        lines = (res.get('stdout') or '').strip().splitlines()
        expected = 2 if want_bin_dir else 1
        if res.get('rc') != 0 or len(lines) < expected:
            raise _DispatchError(
                f"could not probe the target (`{cmd}`, rc={res.get('rc')}): "
                f"{(res.get('stderr') or '').strip()}"
            )
        probed_machine = lines[-expected].strip()
        new_facts = {}
        if not delegated:
            if not machine:
                new_facts[ARCH_FACT] = probed_machine
            if want_bin_dir:
                known_dirs[bin_dir_key] = lines[-1].strip()
                new_facts[BIN_DIR_FACT] = known_dirs
        return {
            'machine': machine or probed_machine,
            'bin_dir': lines[-1].strip() if want_bin_dir else None,
            'new_facts': new_facts,
        }

    # -- the binary cache --------------------------------------------------------------------

    def _binary_cache_usable(self, task_vars):
        """Whether this task can run its binary from the target-side cache (see module doc)."""
        switch = self._templar.template(task_vars.get(CACHE_SWITCH_VAR, True))
        if isinstance(switch, str):
            switch = switch.strip().lower() not in ('0', 'false', 'no', 'off')
        if not switch or self._task.async_val or self._task.delegate_to:
            return False
        connection = self._connection
        if not getattr(connection, 'has_pipelining', False):
            return False  # the connection cannot feed a command's stdin
        if connection.become and not getattr(connection.become, 'pipelining', True):
            return False  # e.g. su reads its password from the same stdin
        return not self._is_become_unprivileged()

    @staticmethod
    def _shell_path(path):
        """`path` as a shell word, a leading `~/` left for the shell to expand."""
        if path.startswith('~/'):
            return '~/' + shlex.quote(path[2:])
        return shlex.quote(path)

    def _run_cached(self, module, bin_dir, task_vars):
        """Run `module` from the cache in bin_dir with its arguments on stdin."""
        local_path = self._module_file(module)
        if local_path is None:
            return {'failed': True, 'msg': f'{module}: module binary not found on the controller'}
        with open(local_path, 'rb') as f:
            binary = f.read()
        name = module.rsplit('.', 1)[1]
        digest = hashlib.sha256(binary).hexdigest()[:16]
        remote_path = f'{bin_dir}/{name}-{digest}'

        module_args = dict(self._task.args)
        self._update_module_args(module, module_args, task_vars)
        args_json = self._encode_args(module_args).encode('utf-8')  # local wants bytes

        env = self._compute_environment_string()
        quoted = shlex.quote(remote_path)
        run_cmd = f'[ -x {quoted} ] || exit {CACHE_MISS_RC}; {env} {quoted} /dev/stdin'
        res = self._low_level_execute_command(run_cmd, sudoable=True, in_data=args_json)
        if res.get('rc') == CACHE_MISS_RC and not (res.get('stdout') or '').strip():
            upload = self._upload_binary(binary, bin_dir, name, remote_path)
            if upload is not None:
                return upload
            res = self._low_level_execute_command(run_cmd, sudoable=True, in_data=args_json)

        data = self._parse_result(res)
        remove_internal_keys(data)
        return data

    def _upload_binary(self, binary, bin_dir, name, remote_path):
        """Write the binary atomically into the cache, dropping older builds of the module.

        Returns None on success, a failed result otherwise.
        """
        tmp = shlex.quote(f'{remote_path}.part')
        final = shlex.quote(remote_path)
        others = shlex.quote(f'{bin_dir}/{name}') + '-*'
        cmd = (
            f'umask 077 && mkdir -p {shlex.quote(bin_dir)} && cat > {tmp}.$$ && chmod 0700 {tmp}.$$ '
            f'&& for f in {others}; do case "$f" in {final}|*.part.*) ;; *) rm -f "$f" ;; esac; done '
            f'&& mv -f {tmp}.$$ {final}'
        )
        res = self._low_level_execute_command(cmd, sudoable=False, in_data=binary)
        if res.get('rc') != 0:
            return {
                'failed': True,
                'msg': f"could not copy the module binary to {remote_path} on the target "
                       f"(rc={res.get('rc')}): {(res.get('stderr') or '').strip()}",
            }
        return None

    def _encode_args(self, module_args):
        """The args file text Ansible would have written for a binary module."""
        if get_module_encoder is None:
            return json.dumps(module_args)
        encoder = get_module_encoder(BINARY_MODULE_PROFILE, Direction.CONTROLLER_TO_MODULE)
        return json.dumps(module_args, cls=encoder)

    def _parse_result(self, res):
        """Ansible's own parsing of a module's stdout (its signature gained a profile in 2.19)."""
        if get_module_encoder is None:
            return self._parse_returned_data(res)
        return self._parse_returned_data(res, BINARY_MODULE_PROFILE)
