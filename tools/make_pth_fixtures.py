"""Write the PyTorch fixtures of test/checkpoint/ (run once; the files are committed).

Needs PyTorch and torchvision (Debian: apt-get install python3-torch python3-torchvision, then
/usr/bin/python3 tools/make_pth_fixtures.py). Every file is a few KB. Besides the .pth files it
writes expected.json: each tensor's dtype, shape and values (row-major), read back by the tests
to check that seg's reader gives exactly what torch.load gives.

  state_dict.pth            zip format (torch >= 1.6): float32/float16/bfloat16/float64, int64
                            (with values beyond 2^31), int32/int16/int8/uint8/bool, a 0-d tensor,
                            an empty one, a transposed (non-contiguous) view, a strided slice at a
                            storage offset, two views sharing one storage, a module's state dict
                            with its _metadata
  state_dict_legacy.pth     the same, in the pre-zip format (_use_new_zipfile_serialization=False)
  resnet_stem.pth           conv1 + bn1 of a ResNet at width 1/8 (torchvision names), zip format
  deeplabv3_tiny.pth        every key of a torchvision DeepLabV3 (its own DeepLabV3, DeepLabHead
                            and FCNHead aux classifier, 21 classes) on a ResNet-18 body, shapes at
                            width 1/64, legacy format (as torchvision's COCO-VOC files are); its
                            expected.json entry has per-tensor sums instead of every value
  evil_system.pth           zip format whose pickle calls os.system (GLOBAL + REDUCE)
  evil_system_legacy.pth    the same in the legacy format
  evil_exec_proto4.pth      zip format, pickle protocol 4: builtins.exec via STACK_GLOBAL
  evil_bounds.pth           an allowed _rebuild_tensor_v2 whose view runs past its storage
  nested_checkpoint.pth     {'model': state dict, 'epoch': 3}: a training checkpoint's layout
"""

import collections
import json
import os
import sys

import torch
import torchvision

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'pth')


def values(t):
    t = t.contiguous()
    if t.dtype == torch.bool:
        return [int(v) for v in t.flatten().tolist()]
    if t.dtype == torch.int64:
        return [str(v) for v in t.flatten().tolist()]  # exact beyond 2^53
    if t.dtype in (torch.float16, torch.bfloat16):
        return t.float().flatten().tolist()
    return t.flatten().tolist()


def describe(sd):
    return {k: {'dtype': str(v.dtype).replace('torch.', ''), 'shape': list(v.shape), 'values': values(v)} for k, v in sd.items()}


def general_state_dict():
    g = torch.Generator().manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.BatchNorm2d(2))
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
        module[1].running_mean.copy_(torch.randn(2, generator=g))
        module[1].running_var.copy_(torch.rand(2, generator=g) + 0.5)
        module[1].num_batches_tracked.fill_(12345)
    sd = module.state_dict()  # an OrderedDict with _metadata, as torchvision's files
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 7
    big = torch.randn(4, 6, generator=g)
    shared = torch.arange(10, dtype=torch.float32)
    sd['transposed'] = base.t()  # strides (1, 4): non-contiguous
    sd['sliced'] = big[1:, ::2]  # storage offset 6, strides (6, 2)
    sd['shared_a'] = shared[:4]
    sd['shared_b'] = shared[3:].view(7)
    sd['half'] = torch.tensor([[0.5, -1.25, 65504.0], [1e-3, -0.0, 3.0]], dtype=torch.float16)
    sd['bf16'] = torch.tensor([1.0, -2.5, 3.140625], dtype=torch.bfloat16)
    sd['double'] = torch.tensor([1.0 / 3.0, -2.0], dtype=torch.float64)
    sd['int64'] = torch.tensor([-3, 0, 2**31 + 5, 2**40, -(2**62)], dtype=torch.int64)
    sd['int32'] = torch.tensor([-7, 2**31 - 1], dtype=torch.int32)
    sd['int16'] = torch.tensor([-300, 300], dtype=torch.int16)
    sd['int8'] = torch.tensor([-128, 127], dtype=torch.int8)
    sd['uint8'] = torch.tensor([0, 255, 7], dtype=torch.uint8)
    sd['bool'] = torch.tensor([True, False, True])
    sd['scalar'] = torch.tensor(2.5)
    sd['empty'] = torch.zeros(0, 3)
    return sd


def scaled(c, width):
    return max(1, round(c * width))


def summarise(sd):
    out = {}
    for k, v in sd.items():
        d = v.double()
        out[k] = {
            'dtype': str(v.dtype).replace('torch.', ''),
            'shape': list(v.shape),
            'sum': d.sum().item(),
            'sumSquares': (d * d).sum().item(),
            'first': values(v.flatten()[:3]),
        }
    return out


def tiny_deeplab_state_dict(width):
    """torchvision's own modules, key list and order, with every channel count scaled as seg's --width does."""
    from torchvision.models._utils import IntermediateLayerGetter
    from torchvision.models.segmentation.deeplabv3 import DeepLabHead, DeepLabV3
    from torchvision.models.segmentation.fcn import FCNHead

    body = IntermediateLayerGetter(torchvision.models.resnet18(), return_layers={'layer4': 'out', 'layer3': 'aux'})
    model = DeepLabV3(body, DeepLabHead(512, 21), FCNHead(256, 21))
    g = torch.Generator().manual_seed(1)
    sd = collections.OrderedDict()
    for key, t in model.state_dict().items():
        shape = list(t.shape)
        if key.endswith('num_batches_tracked'):
            sd[key] = torch.tensor(7, dtype=torch.int64)
            continue
        dims = []
        for i, d in enumerate(shape):
            keep = (i == 1 and key == 'backbone.conv1.weight') or (i == 0 and d == 21) or (i >= 2)
            dims.append(d if keep else scaled(d, width))
        if key.endswith('running_var'):
            sd[key] = torch.rand(dims, generator=g) + 0.5
        else:
            sd[key] = torch.randn(dims, generator=g) * 0.1
    return sd


class Evil:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


class OutOfBounds:
    def __reduce__(self):
        storage = torch.arange(4, dtype=torch.float32).storage()
        return (torch._utils._rebuild_tensor_v2, (storage, 2, (10,), (1,), False, collections.OrderedDict()))


def main():
    os.makedirs(OUT, exist_ok=True)
    path = lambda name: os.path.join(OUT, name)
    expected = {'torch': torch.__version__, 'torchvision': torchvision.__version__}

    sd = general_state_dict()
    torch.save(sd, path('state_dict.pth'))
    torch.save(sd, path('state_dict_legacy.pth'), _use_new_zipfile_serialization=False)
    expected['state_dict'] = describe(sd)

    g = torch.Generator().manual_seed(2)
    stem = collections.OrderedDict()
    stem['conv1.weight'] = torch.randn(8, 3, 7, 7, generator=g)
    for name in ('weight', 'bias', 'running_mean'):
        stem[f'bn1.{name}'] = torch.randn(8, generator=g)
    stem['bn1.running_var'] = torch.rand(8, generator=g) + 0.5
    stem['bn1.num_batches_tracked'] = torch.tensor(0, dtype=torch.int64)
    stem['fc.weight'] = torch.randn(3, 8, generator=g)  # ignored by the import, as ImageNet heads are
    torch.save(stem, path('resnet_stem.pth'))
    expected['resnet_stem'] = describe(stem)

    deeplab = tiny_deeplab_state_dict(1 / 64)
    torch.save(deeplab, path('deeplabv3_tiny.pth'), _use_new_zipfile_serialization=False)
    expected['deeplabv3_tiny'] = summarise(deeplab)

    torch.save({'weight': torch.ones(2), 'payload': Evil(os.system, 'touch seg-pwned')}, path('evil_system.pth'))
    torch.save(
        {'weight': torch.ones(2), 'payload': Evil(os.system, 'touch seg-pwned')},
        path('evil_system_legacy.pth'),
        _use_new_zipfile_serialization=False,
    )
    torch.save({'payload': Evil(exec, 'open("seg-pwned", "w")')}, path('evil_exec_proto4.pth'), pickle_protocol=4)
    torch.save({'bad': OutOfBounds()}, path('evil_bounds.pth'))
    torch.save({'model': stem, 'epoch': 3}, path('nested_checkpoint.pth'))

    with open(path('expected.json'), 'w') as f:
        json.dump(expected, f, indent=None, separators=(',', ':'))
        f.write('\n')
    for name in sorted(os.listdir(OUT)):
        print(f'{name}: {os.path.getsize(path(name))} bytes', file=sys.stderr)


if __name__ == '__main__':
    main()
