"""Write the VOC / SBD download fixtures of test/datasets/ (run once; the files are committed).

Needs numpy, scipy and Pillow (Debian: apt-get install python3-scipy python3-pil, then
/usr/bin/python3 tools/make_voc_fixtures.py). Every file is tiny.

  mat/gtcls.mat               an SBD cls/*.mat: struct GTcls with Segmentation (uint8 HxW),
                              Boundaries (a cell of sparse logical arrays), CategoriesPresent;
                              zlib-compressed, as MATLAB's default save writes it
  mat/gtcls_plain.mat         the same, uncompressed
  mat/kinds.mat               double, single, int16, uint32, int64, logical, complex, char, cell,
                              a 1x2 struct array, a sparse matrix
  mat/v4.mat                  a level-4 MAT-file (refused)
  mat/expected.json           the values scipy wrote
  VOCtrainval_tiny.tar        VOCdevkit/VOC2012/ as in VOCtrainval_11-May-2012.tar: JPEGImages,
                              SegmentationClass (palette PNGs with void borders), SegmentationObject,
                              Annotations, ImageSets/Segmentation/{train,val,trainval}.txt
  benchmark_tiny.tgz          benchmark_RELEASE/dataset/{cls,inst,img}/ and train.txt, val.txt as
                              in SBD's benchmark.tgz
  evil_traversal.tar          a member named ../outside.txt
  evil_absolute.tar           a member named /tmp/seg-evil-absolute.txt
  evil_symlink.tar            a symlink to / and a file written through it
"""

import io
import json
import os
import tarfile

import numpy as np
import scipy.io
import scipy.sparse
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'voc')
MTIME = 1336780800  # 2012-05-12, so the archives are the same bytes on every run


def voc_colormap():
    cmap = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap += [r, g, b]
    return cmap


def label(h, w, seed, void_border):
    rng = np.random.default_rng(seed)
    lab = np.zeros((h, w), np.uint8)
    k = int(rng.integers(1, 21))
    lab[h // 4 : h - h // 4, w // 3 : w - 1] = k
    if void_border:
        lab[h // 4 - 1, w // 3 : w - 1] = 255
    return lab, k


def jpeg(h, w, seed):
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, 'JPEG', quality=90)
    return buf.getvalue()


def png(lab, palette):
    buf = io.BytesIO()
    img = Image.fromarray(lab, mode='P' if palette else 'L')
    if palette:
        img.putpalette(voc_colormap())
    img.save(buf, 'PNG')
    return buf.getvalue()


def gtcls(lab, k):
    boundaries = np.empty((20, 1), dtype=object)
    for c in range(20):
        m = np.zeros(lab.shape, bool)
        if c + 1 == k:
            m[lab.shape[0] // 4, :] = True
        boundaries[c, 0] = scipy.sparse.csc_matrix(m)
    return {'Segmentation': lab, 'Boundaries': boundaries, 'CategoriesPresent': np.array([[k]], np.uint8)}


def add(tar, name, data=b'', kind=tarfile.REGTYPE, linkname=''):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mtime = MTIME
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def write_mats(expected):
    out = os.path.join(ROOT, 'mat')
    os.makedirs(out, exist_ok=True)
    lab, k = label(7, 5, 3, False)
    lab[0, 0] = 2  # a corner that tells rows from columns
    scipy.io.savemat(os.path.join(out, 'gtcls.mat'), {'GTcls': gtcls(lab, k)}, do_compression=True)
    scipy.io.savemat(os.path.join(out, 'gtcls_plain.mat'), {'GTcls': gtcls(lab, k)}, do_compression=False)
    expected['gtcls'] = {'segmentation': lab.tolist(), 'category': k}
    sparse = scipy.sparse.csc_matrix(np.array([[0, 1.5, 0], [2.0, 0, 0]]))
    kinds = {
        'd': np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]]),
        's': np.array([[0.25]], np.float32),
        'i16': np.array([[-300, 7]], np.int16),
        'u32': np.array([[4000000000]], np.uint32),
        'i64': np.array([[-(2**40)]], np.int64),
        'b': np.array([[True, False, True]]),
        'z': np.array([[1 + 2j, -3.5j]]),
        'txt': 'hello, MAT',
        'cell': np.array([[np.array([[1.0]]), 'two']], dtype=object),
        'people': np.array([[('ada', 36.0), ('alan', 41.0)]], dtype=[('name', object), ('age', float)]),
        'sp': sparse,
        'empty': np.zeros((0, 3)),
    }
    scipy.io.savemat(os.path.join(out, 'kinds.mat'), kinds, do_compression=True)
    scipy.io.savemat(os.path.join(out, 'v4.mat'), {'x': np.array([[1.0, 2.0]])}, format='4')
    with open(os.path.join(out, 'expected.json'), 'w') as f:
        json.dump(expected, f)
        f.write('\n')


def main():
    os.makedirs(ROOT, exist_ok=True)
    write_mats({'scipy': scipy.__version__})

    voc_train, voc_val = ['2007_000032', '2007_000039'], ['2007_000033']
    sbd_train, sbd_val = ['2007_000032', '2008_000002', '2008_000003'], ['2007_000033', '2008_000004']
    sizes = {'2007_000032': (9, 12), '2007_000039': (10, 8), '2007_000033': (8, 11), '2008_000002': (12, 10), '2008_000003': (9, 9), '2008_000004': (11, 13)}
    ids = sorted(sizes)

    with tarfile.open(os.path.join(ROOT, 'VOCtrainval_tiny.tar'), 'w', format=tarfile.GNU_FORMAT) as tar:
        base = 'VOCdevkit/VOC2012/'
        for d in ['', 'JPEGImages/', 'SegmentationClass/', 'SegmentationObject/', 'Annotations/', 'ImageSets/', 'ImageSets/Segmentation/']:
            add(tar, base + d, kind=tarfile.DIRTYPE)
        for n, i in enumerate(ids):
            h, w = sizes[i]
            add(tar, f'{base}JPEGImages/{i}.jpg', jpeg(h, w, n))
            add(tar, f'{base}Annotations/{i}.xml', f'<annotation><filename>{i}.jpg</filename></annotation>\n'.encode())
        for n, i in enumerate(voc_train + voc_val):
            h, w = sizes[i]
            lab, _ = label(h, w, 100 + n, True)
            add(tar, f'{base}SegmentationClass/{i}.png', png(lab, True))
            add(tar, f'{base}SegmentationObject/{i}.png', png((lab > 0).astype(np.uint8), True))
        for split, members in [('train', voc_train), ('val', voc_val), ('trainval', voc_train + voc_val)]:
            add(tar, f'{base}ImageSets/Segmentation/{split}.txt', ''.join(m + '\n' for m in members).encode())

    with tarfile.open(os.path.join(ROOT, 'benchmark_tiny.tgz'), 'w:gz', format=tarfile.GNU_FORMAT) as tar:
        base = 'benchmark_RELEASE/dataset/'
        for d in ['', 'cls/', 'inst/', 'img/']:
            add(tar, base + d, kind=tarfile.DIRTYPE)
        for n, i in enumerate(sbd_train + sbd_val):
            h, w = sizes[i]
            lab, k = label(h, w, 200 + n, False)
            buf = io.BytesIO()
            scipy.io.savemat(buf, {'GTcls': gtcls(lab, k)}, do_compression=True)
            add(tar, f'{base}cls/{i}.mat', buf.getvalue())
            buf = io.BytesIO()
            scipy.io.savemat(buf, {'GTinst': {'Segmentation': (lab > 0).astype(np.uint8)}}, do_compression=True)
            add(tar, f'{base}inst/{i}.mat', buf.getvalue())
            add(tar, f'{base}img/{i}.jpg', jpeg(h, w, n))
        add(tar, f'{base}train.txt', ''.join(m + '\n' for m in sbd_train).encode())
        add(tar, f'{base}val.txt', ''.join(m + '\n' for m in sbd_val).encode())

    with tarfile.open(os.path.join(ROOT, 'evil_traversal.tar'), 'w') as tar:
        add(tar, 'VOCdevkit/', kind=tarfile.DIRTYPE)
        add(tar, 'VOCdevkit/../../outside.txt', b'escaped\n')
    with tarfile.open(os.path.join(ROOT, 'evil_absolute.tar'), 'w') as tar:
        add(tar, '/tmp/seg-evil-absolute.txt', b'escaped\n')
    with tarfile.open(os.path.join(ROOT, 'evil_symlink.tar'), 'w') as tar:
        add(tar, 'VOCdevkit/', kind=tarfile.DIRTYPE)
        add(tar, 'VOCdevkit/root', kind=tarfile.SYMTYPE, linkname='/')
        add(tar, 'VOCdevkit/root/tmp/seg-evil-symlink.txt', b'escaped\n')

    for name in sorted(os.listdir(ROOT)):
        p = os.path.join(ROOT, name)
        if os.path.isfile(p):
            print(f'{name}: {os.path.getsize(p)} bytes')


if __name__ == '__main__':
    main()
