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


def shifted_window_attention(x, qkv, proj, relative_position_bias, window_size, num_heads, shift_size):
    """torchvision's shifted_window_attention at inference, for sizes that windows divide (no padding)."""
    B, H, W, C = x.shape
    shift = [0 if window_size >= H else shift_size, 0 if window_size >= W else shift_size]
    if sum(shift) > 0:
        x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
    num_windows = (H // window_size) * (W // window_size)
    x = x.view(B, H // window_size, window_size, W // window_size, window_size, C)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(B * num_windows, window_size * window_size, C)
    q, k, v = qkv(x).reshape(x.size(0), x.size(1), 3, num_heads, C // num_heads).permute(2, 0, 3, 1, 4)
    attn = (q * (C // num_heads) ** -0.5).matmul(k.transpose(-2, -1)) + relative_position_bias
    if sum(shift) > 0:
        attn_mask = x.new_zeros((H, W))
        h_slices = ((0, -window_size), (-window_size, -shift[0]), (-shift[0], None))
        w_slices = ((0, -window_size), (-window_size, -shift[1]), (-shift[1], None))
        count = 0
        for h in h_slices:
            for w in w_slices:
                attn_mask[h[0]:h[1], w[0]:w[1]] = count
                count += 1
        attn_mask = attn_mask.view(H // window_size, window_size, W // window_size, window_size)
        attn_mask = attn_mask.permute(0, 2, 1, 3).reshape(num_windows, window_size * window_size)
        attn_mask = attn_mask.unsqueeze(1) - attn_mask.unsqueeze(2)
        attn_mask = attn_mask.masked_fill(attn_mask != 0, -100.0).masked_fill(attn_mask == 0, 0.0)
        attn = attn.view(x.size(0) // num_windows, num_windows, num_heads, x.size(1), x.size(1))
        attn = (attn + attn_mask.unsqueeze(1).unsqueeze(0)).view(-1, num_heads, x.size(1), x.size(1))
    x = F.softmax(attn, dim=-1).matmul(v).transpose(1, 2).reshape(x.size(0), x.size(1), C)
    x = proj(x)
    x = x.view(B, H // window_size, W // window_size, window_size, window_size, C)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(B, H, W, C)
    if sum(shift) > 0:
        x = torch.roll(x, shifts=(shift[0], shift[1]), dims=(1, 2))
    return x


class ShiftedWindowAttention(nn.Module):
    def __init__(self, dim, window_size, shift_size, num_heads):
        super().__init__()
        self.window_size, self.shift_size, self.num_heads = window_size, shift_size, num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window_size), torch.arange(window_size), indexing="ij"))
        coords_flatten = torch.flatten(coords, 1)
        relative_coords = (coords_flatten[:, :, None] - coords_flatten[:, None, :]).permute(1, 2, 0).contiguous()
        relative_coords[:, :, 0] += window_size - 1
        relative_coords[:, :, 1] += window_size - 1
        relative_coords[:, :, 0] *= 2 * window_size - 1
        self.register_buffer("relative_position_index", relative_coords.sum(-1).flatten())  # int64

    def forward(self, x):
        n = self.window_size ** 2
        bias = self.relative_position_bias_table[self.relative_position_index].view(n, n, -1)
        bias = bias.permute(2, 0, 1).contiguous().unsqueeze(0)
        return shifted_window_attention(x, self.qkv, self.proj, bias, self.window_size, self.num_heads,
                                        self.shift_size)


class SwinTransformerBlock(nn.Module):
    def __init__(self, dim, num_heads, shift_size, window_size=7):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ShiftedWindowAttention(dim, window_size, shift_size, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        # torchvision.ops.MLP: Linear, GELU, Dropout, Linear, Dropout
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(0.0), nn.Linear(4 * dim, dim),
                                 nn.Dropout(0.0))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x):  # H and W are even here: torchvision's padding is a no-op
        x0, x1 = x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :]
        x2, x3 = x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]
        return self.reduction(self.norm(torch.cat([x0, x1, x2, x3], -1)))


class SwinT(nn.Module):
    """torchvision.models.swin_t(): patch 4, embed 96, depths (2, 2, 6, 2), heads (3, 6, 12, 24), window 7;
    odd blocks of a stage shift their windows by 3."""

    def __init__(self, num_classes=1000):
        super().__init__()
        layers = [nn.Sequential(nn.Conv2d(3, 96, kernel_size=4, stride=4), Permute([0, 2, 3, 1]), nn.LayerNorm(96))]
        for stage, (depth, heads) in enumerate(zip((2, 2, 6, 2), (3, 6, 12, 24))):
            dim = 96 * 2 ** stage
            layers.append(nn.Sequential(*[SwinTransformerBlock(dim, heads, 0 if i % 2 == 0 else 3)
                                          for i in range(depth)]))
            if stage < 3:
                layers.append(PatchMerging(dim))
        self.features = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(768)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(768, num_classes)

    def forward(self, x):
        x = self.norm(self.features(x)).permute(0, 3, 1, 2)
        return self.head(torch.flatten(self.avgpool(x), 1))


MODELS = {"convnext_tiny": ConvNeXtTiny, "swin_t": SwinT}
