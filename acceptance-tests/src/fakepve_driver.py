"""Serve fakepve (PyPI `fakepve`, see TESTBED.md) for the acceptance tests and the bench, and
take fault-injection commands on stdin.

    python fakepve_driver.py --guests g.json --host 127.0.0.2 --port 8006 --cert c --key k \
        [--time-scale 0] [--latency 0]

Prints one JSON line `{"url": ...}` once it listens, then answers each JSON command line on
stdin with one JSON line on stdout: `{"ok": result}` or `{"error": text}`. Commands drive
fakepve's own Python API (`pve.fail`, `pve.backup`, `pve.flaky_network`, FakeVm attributes...),
which the `fakepve` command line does not expose. Exits when stdin closes.

Two gaps of fakepve 0.5.0 are filled here, following qemu-server (PVE/API2/Qemu.pm):
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
