"""ConvNeXt-T and Swin-T in plain PyTorch with torchvision's module names, parameters and buffers
(torchvision/models/convnext.py and swin_transformer.py, written out here because torchvision cannot be
installed next to this torch): the oracle for specs/zoo/convnext_tiny.yaml and swin_t.yaml. Stochastic
depth and dropout are left out: both are the identity in eval mode."""

import torch
import torch.nn.functional as F
from torch import nn


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims)


class LayerNorm2d(nn.LayerNorm):
    """torchvision.models.convnext.LayerNorm2d: a LayerNorm over the channels of an NCHW tensor."""

    def forward(self, x):
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    def __init__(self, dim, layer_scale=1e-6):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True), Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim),
            Permute([0, 3, 1, 2]))
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)

    def forward(self, x):
        return self.layer_scale * self.block(x) + x


class ConvNeXtTiny(nn.Module):
    """torchvision.models.convnext_tiny(): stages (96, 3), (192, 3), (384, 9), (768, 3)."""

    def __init__(self, num_classes=1000):
        super().__init__()
        stages = [(96, 192, 3), (192, 384, 3), (384, 768, 9), (768, None, 3)]
        norm = lambda channels: LayerNorm2d(channels, eps=1e-6)  # noqa: E731
        layers = [nn.Sequential(nn.Conv2d(3, 96, kernel_size=4, stride=4), norm(96))]  # Conv2dNormActivation
        for channels, out, depth in stages:
            layers.append(nn.Sequential(*[CNBlock(channels) for _ in range(depth)]))
            if out is not None:
                layers.append(nn.Sequential(norm(channels), nn.Conv2d(channels, out, kernel_size=2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(norm(768), nn.Flatten(1), nn.Linear(768, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))


MODELS = {"convnext_tiny": ConvNeXtTiny}
