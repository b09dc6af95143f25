"""PyTorch references for the weight-import tests, in the source framework with the official names.

torchvision and timm cannot be installed next to the CPU torch this project pins (their wheels are
built against the CUDA torch), so the reference networks are written here from the published
module structure; every ``state_dict`` key is the one the official checkpoints use:

* :class:`PoseHRNet`: HRNet's ``lib/models/pose_hrnet.py`` (Sun et al. 2019, leoxiaobin/
  deep-high-resolution-net.pytorch): ``conv1 bn1 conv2 bn2 layer1 transition1..3 stage2..4``
  (``branches``, ``fuse_layers``) ``final_layer``. ``imagenet_head=True`` gives the classification
  network of HRNet-Image-Classification (``cls_hrnet.py``, the ``hrnet_w32-36af842e.pth`` file):
  stage 4 fuses into every branch and ``incre_modules downsamp_modules final_layer classifier``
  replace the pose head.
* :class:`TorchvisionResNet`: torchvision's ``ResNet`` (v1.5, stride on the 3x3 conv): ``conv1 bn1
  layer1..4`` (``downsample.0/1``) ``fc``, which is also Hand4Whole's ``ResNetBackbone``.
* :class:`HandHeads`: Hand4Whole's hand ``PositionNet`` + ``RotationNet`` (``common/nets/module.py``).

Forward passes are those of the papers' code in eval mode (BN with running statistics).
"""
import torch
from torch import nn
from torch.nn import functional as F

BN_MOMENTUM = 0.1


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.downsample = downsample

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + shortcut)


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck (torchvision and HRNet's stage 1): the stride sits on the 3x3 conv."""

    expansion = 4

    def __init__(self, cin, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4, momentum=BN_MOMENTUM)
        self.downsample = downsample

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        return F.relu(self.bn3(self.conv3(y)) + shortcut)


def residual_layer(block, cin, planes, blocks, stride=1):
    """``_make_layer``: the first block takes the stride and a 1x1 conv + BN projection if needed."""
    downsample = None
    if stride != 1 or cin != planes * block.expansion:
        downsample = nn.Sequential(nn.Conv2d(cin, planes * block.expansion, 1, stride, bias=False),
                                   nn.BatchNorm2d(planes * block.expansion, momentum=BN_MOMENTUM))
    layers = [block(cin, planes, stride, downsample)]
    layers += [block(planes * block.expansion, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


def conv_bn(cin, cout, kernel, stride, relu):
    pad = kernel // 2
    parts = [nn.Conv2d(cin, cout, kernel, stride, pad, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*parts, nn.ReLU()) if relu else nn.Sequential(*parts)


class HighResolutionModule(nn.Module):
    """``branches`` (BasicBlocks per branch) and ``fuse_layers`` (sum of every branch, then ReLU)."""

    def __init__(self, channels, num_blocks, multi_scale_output=True):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicBlock(c, c) for _ in range(num_blocks)]) for c in channels)
        n = len(channels)
        fuse = []
        for i in range(n if multi_scale_output else 1):
            row = []
            for j in range(n):
                if j > i:
                    row.append(nn.Sequential(nn.Conv2d(channels[j], channels[i], 1, 1, 0, bias=False),
                                             nn.BatchNorm2d(channels[i]),
                                             nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
                elif j == i:
                    row.append(None)
                else:
                    steps = [conv_bn(channels[j], channels[j], 3, 2, relu=True) for _ in range(i - j - 1)]
                    steps.append(conv_bn(channels[j], channels[i], 3, 2, relu=False))
                    row.append(nn.Sequential(*steps))
            fuse.append(nn.ModuleList(row))
        self.fuse_layers = nn.ModuleList(fuse) if n > 1 else None

    def forward(self, xs):
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        if self.fuse_layers is None:
            return xs
        out = []
        for i, row in enumerate(self.fuse_layers):
            total = 0
            for j, x in enumerate(xs):
                total = total + (x if row[j] is None else row[j](x))
            out.append(F.relu(total))
        return out


class PoseHRNet(nn.Module):
    """HRNet-W``width`` for pose (``final_layer`` 1x1 conv to ``num_joints``) or, with
    ``imagenet_head=True``, the ImageNet classification HRNet (HRNet-Image-Classification)."""

    def __init__(self, *, width=32, num_joints=17, stage_modules=(1, 4, 3), num_blocks=4, imagenet_head=False):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.layer1 = residual_layer(Bottleneck, 64, 64, num_blocks)
        previous = [256]
        for stage, modules in zip((2, 3, 4), stage_modules):
            channels = [width * 2 ** i for i in range(stage)]
            setattr(self, f"transition{stage - 1}", self._transition(previous, channels))
            last_single = stage == 4 and not imagenet_head
            setattr(self, f"stage{stage}", nn.Sequential(*[
                HighResolutionModule(channels, num_blocks, multi_scale_output=not (last_single and m == modules - 1))
                for m in range(modules)]))
            previous = channels
        self.imagenet_head = imagenet_head
        if imagenet_head:
            head_planes = (32, 64, 128, 256)
            self.incre_modules = nn.ModuleList(
                residual_layer(Bottleneck, c, p, 1) for c, p in zip(previous, head_planes))
            self.downsamp_modules = nn.ModuleList(
                nn.Sequential(nn.Conv2d(p * 4, q * 4, 3, 2, 1), nn.BatchNorm2d(q * 4, momentum=BN_MOMENTUM), nn.ReLU())
                for p, q in zip(head_planes[:-1], head_planes[1:]))
            self.final_layer = nn.Sequential(nn.Conv2d(1024, 2048, 1), nn.BatchNorm2d(2048, momentum=BN_MOMENTUM),
                                             nn.ReLU())
            self.classifier = nn.Linear(2048, 1000)
        else:
            self.final_layer = nn.Conv2d(width, num_joints, 1, 1, 0)

    @staticmethod
    def _transition(previous, channels):
        layers = []
        for i, c in enumerate(channels):
            if i < len(previous):
                layers.append(conv_bn(previous[i], c, 3, 1, relu=True) if previous[i] != c else None)
            else:
                steps = [conv_bn(previous[-1], c if k == i - len(previous) else previous[-1], 3, 2, relu=True)
                         for k in range(i + 1 - len(previous))]
                layers.append(nn.Sequential(*steps))
        return nn.ModuleList(layers)

    def features(self, x):
        """The stage-4 outputs (branch 0 is what the pose head reads)."""
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        xs = [self.layer1(x)]
        for stage in (2, 3, 4):
            transition = getattr(self, f"transition{stage - 1}")
            inputs = []
            for i, layer in enumerate(transition):
                source = xs[i] if i < len(xs) else xs[-1]
                inputs.append(source if layer is None else layer(source))
            xs = getattr(self, f"stage{stage}")(inputs)
        return xs

    def forward(self, x):
        xs = self.features(x)
        if self.imagenet_head:
            y = self.incre_modules[0](xs[0])
            for i, down in enumerate(self.downsamp_modules):
                y = self.incre_modules[i + 1](xs[i + 1]) + down(y)
            y = self.final_layer(y)
            return self.classifier(y.mean((2, 3)))
        return self.final_layer(xs[0])


class TorchvisionResNet(nn.Module):
    """torchvision's ``ResNet`` (``resnet50``: Bottleneck (3, 4, 6, 3); ``resnet18``: BasicBlock
    (2, 2, 2, 2)); ``stages(x)`` returns the outputs of ``layer1..layer4``. ``num_classes=None`` is
    Hand4Whole's ``ResNetBackbone`` (no ``fc``); ``width`` / ``blocks`` shrink it for tests."""

    def __init__(self, depth=50, blocks=None, num_classes=1000, width=64):
        super().__init__()
        block = Bottleneck if depth == 50 else BasicBlock
        blocks = blocks or ((3, 4, 6, 3) if depth == 50 else (2, 2, 2, 2))
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        cin = width
        for index, count in enumerate(blocks):
            planes = width * 2 ** index
            setattr(self, f"layer{index + 1}", residual_layer(block, cin, planes, count, stride=1 if index == 0 else 2))
            cin = planes * block.expansion
        self.out_channels = cin
        if num_classes:
            self.fc = nn.Linear(cin, num_classes)

    def stages(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        outputs = []
        for index in range(1, 5):
            x = getattr(self, f"layer{index}")(x)
            outputs.append(x)
        return outputs

    def forward(self, x):
        return self.fc(self.stages(x)[-1].mean((2, 3)))


def soft_argmax_3d(heatmap):
    """Hand4Whole's ``soft_argmax_3d`` on ``(N, J, D, H, W)`` logits -> ``(N, J, 3)`` (x, y, z)."""
    n, j, d, h, w = heatmap.shape
    prob = F.softmax(heatmap.reshape(n, j, -1), 2).reshape(n, j, d, h, w)
    xs = (prob.sum((2, 3)) * torch.arange(w, dtype=prob.dtype)).sum(2, keepdim=True)
    ys = (prob.sum((2, 4)) * torch.arange(h, dtype=prob.dtype)).sum(2, keepdim=True)
    zs = (prob.sum((3, 4)) * torch.arange(d, dtype=prob.dtype)).sum(2, keepdim=True)
    return torch.cat((xs, ys, zs), 2)


def sample_joint_features(feature, xy):
    """Hand4Whole's ``sample_joint_features``: bilinear ``grid_sample(align_corners=True)`` at pixel xy."""
    _, _, h, w = feature.shape
    grid = torch.stack(((xy[:, :, 0] / (w - 1)) * 2 - 1, (xy[:, :, 1] / (h - 1)) * 2 - 1), 2)[:, :, None, :]
    sampled = F.grid_sample(feature, grid, align_corners=True)[:, :, :, 0]
    return sampled.permute(0, 2, 1)


class HandPositionNet(nn.Module):
    """``PositionNet('hand')``: ``conv`` = [1x1 conv to joints * depth] (module name ``conv.0``)."""

    def __init__(self, feat_dim, joints=20, depth=8):
        super().__init__()
        self.joints, self.depth = joints, depth
        self.conv = nn.Sequential(nn.Conv2d(feat_dim, joints * depth, 1))

    def forward(self, feature):
        n, _, h, w = feature.shape
        return soft_argmax_3d(self.conv(feature).reshape(n, self.joints, self.depth, h, w))


class HandRotationNet(nn.Module):
    """``RotationNet('hand')``: ``hand_conv`` (1x1 conv + BN + ReLU), joint sampling, ``hand_pose_out``."""

    def __init__(self, feat_dim, channels=512, joints=20, rotations=15):
        super().__init__()
        self.hand_conv = nn.Sequential(nn.Conv2d(feat_dim, channels, 1), nn.BatchNorm2d(channels), nn.ReLU())
        self.hand_pose_out = nn.Sequential(nn.Linear(joints * (channels + 3), rotations * 6))

    def forward(self, feature, coords):
        sampled = sample_joint_features(self.hand_conv(feature), coords[:, :, :2])
        return self.hand_pose_out(torch.cat((sampled, coords), 2).reshape(feature.shape[0], -1))


def _holder(**modules) -> nn.Module:
    """A module with named children only (Hand4Whole's ``HandRoI`` / ``FaceRoI`` hold ``backbone``)."""
    holder = nn.Module()
    for name, module in modules.items():
        holder.add_module(name, module)
    return holder


def linear(cin, cout):
    return nn.Sequential(nn.Linear(cin, cout))  # make_linear_layers([cin, cout], relu_final=False)


def conv_bn_relu_1x1(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout), nn.ReLU())


class Hand4WholeSnapshot(nn.Module):
    """The modules of Hand4Whole's ``Model`` (``main/model.py``) under their names, so its
    ``state_dict`` has the keys of a ``snapshot_*.pth.tar`` ``'network'``; ``width`` etc. shrink it
    (the paper: width 64, head_channels 512, boxnet_channels 256). Forward passes: the encoders
    (``TorchvisionResNet.stages``) and the hand heads (:class:`HandPositionNet`, :class:`HandRotationNet`)."""

    def __init__(self, *, width=64, blocks50=(3, 4, 6, 3), blocks18=(2, 2, 2, 2), head_channels=512,
                 boxnet_channels=256, body_depth=8, hand_depth=8):
        super().__init__()
        self.backbone = TorchvisionResNet(50, blocks50, num_classes=None, width=width)
        feat, face_feat = self.backbone.out_channels, 8 * width
        joints, mcp = 25, 4
        self.body_position_net = _holder(conv=nn.Sequential(nn.Conv2d(feat, joints * body_depth, 1)))
        per_joint = (joints + 2 * mcp) * (head_channels + 3)
        self.body_rotation_net = _holder(
            body_conv=conv_bn_relu_1x1(feat, head_channels), lhand_conv=conv_bn_relu_1x1(feat, head_channels),
            rhand_conv=conv_bn_relu_1x1(feat, head_channels), root_pose_out=linear(per_joint, 6),
            body_pose_out=linear(per_joint, 21 * 6), shape_out=linear(feat, 10), cam_out=linear(feat, 3))
        deconvs = []
        cin = feat + joints * body_depth
        for _ in range(3):
            deconvs += [nn.ConvTranspose2d(cin, boxnet_channels, 4, 2, 1, bias=False), nn.BatchNorm2d(boxnet_channels),
                        nn.ReLU()]
            cin = boxnet_channels
        sizes = {f"{part}_size": nn.Sequential(nn.Linear(boxnet_channels, boxnet_channels), nn.ReLU(),
                                               nn.Linear(boxnet_channels, 2)) for part in ("lhand", "rhand", "face")}
        self.box_net = _holder(deconv=nn.Sequential(*deconvs),
                               bbox_center=nn.Sequential(nn.Conv2d(boxnet_channels, 3, 1)), **sizes)
        self.hand_roi_net = _holder(backbone=TorchvisionResNet(50, blocks50, num_classes=None, width=width))
        self.hand_position_net = HandPositionNet(feat, 20, hand_depth)
        self.hand_rotation_net = HandRotationNet(feat, head_channels, 20, 15)
        self.face_roi_net = _holder(backbone=TorchvisionResNet(18, blocks18, num_classes=None, width=width))
        self.face_regressor = _holder(expr_out=linear(face_feat, 10), jaw_pose_out=linear(face_feat, 6))

    def hand_heads(self, feature):
        coords = self.hand_position_net(feature)
        return coords, self.hand_rotation_net(feature, coords)


def randomize_(module: nn.Module, *, seed: int) -> nn.Module:
    """Random weights (He-scaled, so activations stay O(1) through deep nets), random biases and
    random non-degenerate BN statistics, so the test exercises every mapped tensor."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                fan_in = sub.weight[0].numel() if not isinstance(sub, nn.ConvTranspose2d) else \
                    sub.weight.shape[0] * sub.weight[0, 0].numel() // 4
                sub.weight.copy_(torch.randn(sub.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                if sub.bias is not None:
                    sub.bias.copy_(torch.randn(sub.bias.shape, generator=generator) * 0.1)
            elif isinstance(sub, nn.BatchNorm2d):
                sub.weight.copy_(torch.rand(sub.weight.shape, generator=generator) * 0.5 + 0.5)
                sub.bias.copy_(torch.randn(sub.bias.shape, generator=generator) * 0.1)
                sub.running_mean.copy_(torch.randn(sub.running_mean.shape, generator=generator) * 0.2)
                sub.running_var.copy_(torch.rand(sub.running_var.shape, generator=generator) * 1.5 + 0.5)
                sub.num_batches_tracked.fill_(1000)
    return module.eval()
