"""Serve fakepve (PyPI `fakepve`, see TESTBED.md) for the acceptance tests and the bench, and
take fault-injection commands on stdin.

    python fakepve_driver.py --guests g.json --host 127.0.0.2 --port 8006 --cert c --key k \
        [--time-scale 0] [--latency 0]

Prints one JSON line `{"url": ...}` once it listens, then answers each JSON command line on
stdin with one JSON line on stdout: `{"ok": result}` or `{"error": text}`. Commands drive
fakepve's own Python API (`pve.fail`, `pve.backup`, `pve.flaky_network`, FakeVm attributes...),
which the `fakepve` command line does not expose. Exits when stdin closes.

Three gaps of fakepve 0.5.0 are filled here, following qemu-server (PVE/API2/Qemu.pm) and
pve-manager (PVE/API2/Backup.pm):
- `PUT /nodes/{node}/qemu/{vmid}/resize` is answered by fakepve's generic schema handler,
  which stores nothing, so a grown VM disk would keep its old size. The route below checks
  and records the new size with PVE's own messages (`resize_vm`) and runs as a task.
- A VM config change with a new disk (`scsi1=local-lvm:10`) or a cloud-init drive
  (`ide2=local-lvm:cloudinit`) stores that text as it is; PVE allocates the volume first
  (`create_disks` in `update_vm`) and writes `local-lvm:vm-101-disk-1,size=10G` or
  `local-lvm:vm-101-cloudinit,media=cdrom`. `_apply_config` below does the same.
"""

import argparse
import asyncio
import json
import random
import sys

from fakepve import FakePve
from fakepve.lxc import format_size, parse_size
from fakepve.model import PveError
from fakepve.routing import param_error
from fakepve.qemu import DRIVE_KEY, NEW_DISK, is_cdrom, join_drive, split_drive


class CountingRandom(random.Random):
    """fakepve's network dice, counting the requests it drops (jitter is not used)."""

    def __init__(self):
        super().__init__()
        self.drop_rate = 0.0
        self.dropped = 0

    def uniform(self, a, b):
        return a if a == b else super().uniform(a, b)

    def random(self):
        value = super().random()
        if value < self.drop_rate:
            self.dropped += 1
        return value


class DriverPve(FakePve):
    def __init__(self, *args, **kwargs):
        # Scheduled vzdump jobs by id (PVE's jobs.cfg); before super(), which registers the routes.
        self.backup_jobs = {}
        super().__init__(*args, **kwargs)
        self._random = CountingRandom()

    async def _apply_config(self, vm, user, p):
        p = dict(p)
        for key in sorted(p):
            if not DRIVE_KEY.match(key):
                continue
            volume, props = split_drive(str(p[key]))
            if volume.endswith(':cloudinit'):
                sid = volume.split(':')[0] or 'local-lvm'
                self._qm_image_store(sid, user)
                name = 'vm-{0}-cloudinit'.format(vm.vmid)
                self.storages[sid].setdefault('volumes', {})[name] = {
                    'content': 'images', 'format': 'raw', 'size': 4 * 1024 ** 2, 'vmid': vm.vmid, 'ctime': 0}
                p[key] = join_drive('{0}:{1}'.format(sid, name), dict(props, media='cdrom'))
            elif NEW_DISK.match(volume) and not is_cdrom(volume, props):
                self._qm_check_drive(user, vm.vmid, None, key, p[key], None)
                p[key], _ = self._qm_new_drive(vm.vmid, key, p[key], None)
        return await super()._apply_config(vm, user, p)

    def _routes_qemu_resize(self):
        return [('PUT', '/nodes/{node}/qemu/{vmid}/resize', self._qm_resize)]

    async def _qm_resize(self, v, user):
        vm = self.find(v['node'], v['vmid'])
        disk, text = v['disk'], str(v['size'])
        self._check_lock(vm)
        if v.get('digest') and v['digest'] != vm.digest():
            raise PveError(500, 'checksum mismatch (file change by other user?)')
        value = vm.config.get(disk)
        if value is None or not DRIVE_KEY.match(disk):
            raise PveError(500, "disk '{0}' does not exist".format(disk))
        volume, props = split_drive(value)
        if is_cdrom(volume, props):
            raise PveError(500, "you can't resize a cdrom")
        extend = text.startswith('+')
        request = parse_size(text.lstrip('+'))
        if request is None:
            raise PveError(400, 'Parameter verification failed.', {'size': 'invalid format - unable to parse disk size'})
        size = parse_size(props.get('size', '')) or 0
        new = size + request if extend else request
        if new < size:
            raise PveError(500, 'shrinking disks is not supported')

        async def body():
            if new == size:
                return 'disk is already at the requested size'
            vm.config[disk] = join_drive(volume, dict(props, size=format_size(new)))
            return None
        return await self.task(vm.node, 'resize', vm.vmid, user, body, vm=vm)

    # ------------------------------------------------------------ /cluster/backup

    # vzdump options `delete` may name (besides `comment` and `repeat-missed`).
    VZDUMP_DELETABLE = set((
        'vmid node all stdexcludes compress pigz zstd quiet mode exclude exclude-path mailto '
        'mailnotification notification-mode tmpdir dumpdir script storage stop bwlimit ionice '
        'performance fleecing lockwait stopwait prune-backups remove pool notes-template protected '
        'pbs-change-detection-mode comment repeat-missed').split())
    PROPERTY_STRINGS = ('prune-backups', 'fleecing', 'performance')

    def _routes_cluster_backup(self):
        return [('GET', '/cluster/backup', self._backup_list),
                ('POST', '/cluster/backup', self._backup_create),
                ('GET', '/cluster/backup/{id}', self._backup_read),
                ('PUT', '/cluster/backup/{id}', self._backup_update),
                ('DELETE', '/cluster/backup/{id}', self._backup_delete)]

    @staticmethod
    def _locked_error(field, message):
        """A raise_param_exc inside cfs_lock_file: rethrown as text, so a 500."""
        return PveError(500, '400 Parameter verification failed.\n{0}: {1}\n'.format(field, message))

    def _verify_vzdump(self, job, need_selection):
        """PVE::VZDump::verify_vzdump_parameters."""
        for other in ('all', 'exclude', 'pool'):
            if job.get(other) not in (None, 0, '0', '') and job.get('vmid'):
                raise self._locked_error(other, "option conflicts with option 'vmid'")
        if job.get('exclude') and not job.get('pool'):
            job['all'] = 1
        if need_selection and not any(job.get(k) not in (None, 0, '0', '') for k in ('all', 'stop', 'pool', 'vmid')):
            raise self._locked_error('vmid', 'property is missing')

    @staticmethod
    def _schedule(v, required):
        if v.get('schedule') is not None and v.get('starttime') is not None:
            raise param_error(starttime="'starttime' and 'schedule' cannot both be set")
        starttime = v.pop('starttime', None)
        dow = v.pop('dow', None)
        if starttime is not None:
            days = dow or 'mon,tue,wed,thu,fri,sat,sun'
            v['schedule'] = starttime if days == 'mon,tue,wed,thu,fri,sat,sun' else '{0} {1}'.format(days, starttime)
        elif required and v.get('schedule') is None:
            raise param_error(schedule="neither 'starttime' nor 'schedule' were set")

    def _backup_view(self, job_id):
        job = dict(self.backup_jobs[job_id], id=job_id)
        for key in self.PROPERTY_STRINGS:
            if isinstance(job.get(key), str):
                parsed = {}
                for item in job[key].split(','):
                    name, _, value = item.partition('=')
                    parsed[name] = int(value) if value.isdigit() else value
                job[key] = parsed
        return job

    @staticmethod
    def _prune_string(text):
        """prune-backups as PVE stores it: keys sorted; all zero means keep-all."""
        items = dict(item.partition('=')[::2] for item in str(text).split(',') if item)
        if 'keep-all' in items and len(items) > 1:
            raise PveError(500, 'keep-all cannot be set together with other options.\n')
        if items and all(value in ('0', '') for value in items.values()):
            items = {'keep-all': '1'}
        return ','.join('{0}={1}'.format(k, items[k]) for k in sorted(items))

    async def _backup_list(self, v, user):
        return [self._backup_view(job_id) for job_id in sorted(self.backup_jobs)]

    async def _backup_create(self, v, user):
        import uuid
        v = dict(v)
        self._schedule(v, required=True)
        job_id = v.pop('id', None) or str(uuid.uuid4())
        v.setdefault('enabled', 1)
        if job_id in self.backup_jobs:
            raise PveError(500, "Job '{0}' already exists\n".format(job_id))
        self._verify_vzdump(v, need_selection=True)
        if 'prune-backups' in v:
            v['prune-backups'] = self._prune_string(v['prune-backups'])
        self.backup_jobs[job_id] = dict(v, type='vzdump')
        return None

    async def _backup_read(self, v, user):
        if v['id'] not in self.backup_jobs:
            raise param_error(id="No such job '{0}'".format(v['id']))
        return self._backup_view(v['id'])

    async def _backup_update(self, v, user):
        v = dict(v)
        job_id = v.pop('id')
        deletes = [key for key in str(v.pop('delete', '') or '').replace(';', ',').split(',') if key]
        self._schedule(v, required=False)
        if not v and not deletes:
            raise PveError(500, 'no options specified\n')
        self._verify_vzdump(dict(v), need_selection=False)
        job = self.backup_jobs.get(job_id)
        if job is None:
            raise PveError(500, 'no such vzdump job\n')
        for key in deletes:
            if key not in self.VZDUMP_DELETABLE:
                raise self._locked_error('delete', "unknown option '{0}'".format(key))
        job = dict(job)
        for key in deletes:
            job.pop(key, None)
        if 'prune-backups' in v:
            v['prune-backups'] = self._prune_string(v['prune-backups'])
        job.update(v)
        if v.get('vmid'):
            for key in ('all', 'exclude', 'pool'):
                job.pop(key, None)
        elif v.get('all') not in (None, 0, '0'):
            for key in ('vmid', 'pool'):
                job.pop(key, None)
        elif job.get('pool'):
            for key in ('vmid', 'all', 'exclude'):
                job.pop(key, None)
        self._verify_vzdump(job, need_selection=True)
        self.backup_jobs[job_id] = job
        return None

    async def _backup_delete(self, v, user):
        if self.backup_jobs.pop(v['id'], None) is None:
            raise self._locked_error('id', "No such job '{0}'".format(v['id']))
        return None


def guest_view(guest, kind):
    return {'vmid': guest.vmid, 'type': kind, 'name': guest.name, 'node': guest.node, 'status': guest.status,
            'lock': guest.lock, 'template': bool(guest.template), 'config': guest.config, 'pending': guest.pending}


class Driver(object):
    def __init__(self, pve):
        self.pve = pve

    async def api(self, method, path, params):
        import aiohttp
        base = self.pve.url + '/api2/json'
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as session:
            async with session.post(base + '/access/ticket',
                                    data={'username': self.pve.user, 'password': self.pve.password}) as r:
                login = (await r.json())['data']
            headers = {'CSRFPreventionToken': login['CSRFPreventionToken'],
                       'Cookie': 'PVEAuthCookie=' + login['ticket']}
            kwargs = {'params': params} if method in ('GET', 'DELETE') else {'data': params}
            async with session.request(method, base + path, headers=headers, **kwargs) as r:
                body = await r.json(content_type=None)
                return {'status': r.status, 'body': body}

    def guest(self, vmid):
        guest = self.pve.guest(int(vmid))
        if guest is None:
            raise KeyError('no guest {0}'.format(vmid))
        return guest

    async def run(self, cmd):
        op = cmd.pop('op')
        pve = self.pve
        if op == 'fail':
            pve.fail(cmd.pop('method'), cmd.pop('suffix'), **cmd)
        elif op == 'clear_failures':
            pve.failures.clear()
        elif op == 'guests':
            return [guest_view(vm, 'qemu') for vm in pve.vms] + [guest_view(ct, 'lxc') for ct in pve.cts]
        elif op == 'set':
            # FakeVm / FakeCt attributes: shutdown_secs, start_error, agent, agent_hangs, acpi, ...
            guest = self.guest(cmd['vmid'])
            for key, value in cmd['attrs'].items():
                setattr(guest, key, value)
        elif op == 'backup':
            # A vzdump holding lock 'backup' for `secs` PVE seconds (real seconds x time scale).
            return await pve.backup(int(cmd['vmid']), secs=cmd.get('secs', 30))
        elif op == 'lock':
            # A lock left in the config for `release_after` real seconds (None: until `unlock`).
            vmid = int(cmd['vmid'])
            pve.snapshot_lock(vmid, cmd.get('lock', 'backup'))
            if cmd.get('release_after') is not None:
                async def later():
                    await asyncio.sleep(cmd['release_after'])
                    pve.unlock(vmid)
                asyncio.ensure_future(later())
        elif op == 'unlock':
            pve.unlock(int(cmd['vmid']))
        elif op == 'add_token':
            pve.apitokens[cmd['tokenid']] = cmd['secret']
        elif op == 'revoke_tickets':
            pve.revoke_tickets()
        elif op == 'flaky_network':
            pve.flaky_network(**cmd)
            pve._random.drop_rate = cmd.get('drop_rate', 0.0)
            if cmd.get('seed') is not None:
                pve._random.seed(cmd['seed'])
        elif op == 'network_stats':
            return {'dropped': pve._random.dropped}
        elif op == 'slow_network':
            pve.slow_network(cmd['latency'], cmd.get('jitter', 0.0))
        elif op == 'time_scale':
            pve.time_scale = float(cmd['value'])
        elif op == 'requests':
            return [[m, p] for m, p, _ in pve.requests]
        elif op == 'reset_requests':
            del pve.requests[:]
        elif op == 'tasks':
            return [dict((k, v) for k, v in t.items()) for t in pve.tasklog]
        elif op == 'storage_volume':
            # Register a volume (e.g. a template's base disk) so clones know its size.
            store = pve.storages[cmd['storage']]
            store.setdefault('volumes', {})[cmd['name']] = {
                'content': cmd.get('content', 'images'), 'format': cmd.get('format', 'raw'),
                'size': int(cmd['size']), 'vmid': cmd.get('vmid'), 'ctime': 0}
        elif op == 'api':
            # A request through the HTTP API as another client would send it (drift made
            # behind Terraform's back): login as root@pam, then the call. Returns
            # {status, body}.
            return await self.api(cmd['method'], cmd['path'], cmd.get('params') or {})
        elif op == 'store_file':
            pve.store_file(cmd['storage'], cmd['name'], int(cmd.get('size', 1024)), cmd.get('content', 'iso'))
        else:
            raise ValueError('unknown op {0!r}'.format(op))
        return None


def load_guests(pve, path):
    with open(path) as fh:
        guests = json.load(fh)['guests']
    for guest in guests:
        if guest.get('type', 'qemu') == 'lxc':
            ct = pve.add_ct(guest['vmid'], guest.get('name'), node=guest.get('node', 'pve1'),
                            status=guest.get('status', 'stopped'), config=guest.get('config', {}),
                            template=guest.get('template', False), lock=guest.get('lock'),
                            ostemplate=guest.get('ostemplate'))
            for key in ('shutdown_secs', 'start_secs', 'stop_secs', 'start_error'):
                if key in guest:
                    setattr(ct, key, guest[key])
            continue
        vm = pve.add_vm(guest['vmid'], guest['name'], node=guest.get('node', 'pve1'),
                        status=guest.get('status', 'stopped'), config=guest.get('config', {}),
                        template=guest.get('template', False), lock=guest.get('lock'))
        for key in ('shutdown_secs', 'start_secs', 'stop_secs', 'start_error', 'agent', 'acpi'):
            if key in guest:
                setattr(vm, key, guest[key])
        # Disks of the guest file exist on their storage, with the size their config names.
        for key, value in vm.config.items():
            if not DRIVE_KEY.match(key):
                continue
            volume, props = split_drive(value)
            sid, _, name = volume.partition(':')
            if sid in pve.storages and name and not is_cdrom(volume, props) and 'cloudinit' not in name:
                size = parse_size(props.get('size', '')) or 0
                pve.storages[sid].setdefault('volumes', {})[name] = {
                    'content': 'images', 'format': 'raw', 'size': size, 'vmid': vm.vmid, 'ctime': 0}
    with open(path) as fh:
        files = json.load(fh)
    for name in files.get('vztmpl', []):
        pve.store_file('local', name, 1024, 'vztmpl')
    for name in files.get('iso', []):
        pve.store_file('local', name, 1024, 'iso')


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--guests', required=True)
    parser.add_argument('--host', default='127.0.0.2')
    parser.add_argument('--port', type=int, default=8006)
    parser.add_argument('--cert', required=True)
    parser.add_argument('--key', required=True)
    parser.add_argument('--time-scale', type=float, default=0.0)
    parser.add_argument('--latency', type=float, default=0.0)
    args = parser.parse_args()
    pve = DriverPve(host=args.host, port=args.port)
    pve.time_scale = args.time_scale
    if args.latency:
        pve.slow_network(args.latency)
    load_guests(pve, args.guests)
    await pve.start(args.cert, args.key)
    out = sys.stdout
    out.write(json.dumps({'url': pve.url}) + '\n')
    out.flush()
    driver = Driver(pve)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        if not line.strip():
            continue
        try:
            answer = {'ok': await driver.run(json.loads(line))}
        except Exception as e:  # noqa: BLE001 - reported to the test
            answer = {'error': '{0}: {1}'.format(type(e).__name__, e)}
        out.write(json.dumps(answer, default=str) + '\n')
        out.flush()
    await pve.stop()


if __name__ == '__main__':
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
