"""EfficientNet-B0 and MobileNetV3-Small in plain PyTorch, with torchvision's module names and shapes
(written from torchvision's models/efficientnet.py, models/mobilenetv3.py and ops/misc.py, because
torchvision cannot be imported next to this project's torch): the oracle for specs/zoo/efficientnet_b0.yaml
and specs/zoo/mobilenet_v3_small.yaml.

What matters for the weights and the outputs, as torchvision has it:
- Conv2dNormActivation is a Sequential [conv (no bias), batch norm, activation]: `.0`, `.1`, `.2`; padding
  (kernel - 1) // 2; no activation module at all where the activation is None.
- SqueezeExcitation: `avgpool`, `fc1` and `fc2` (1x1 convolutions with bias), `activation`,
  `scale_activation`; the input times the gate, broadcast over height and width.
- EfficientNet-B0 keeps BatchNorm2d's default eps 1e-5 (torchvision passes eps=1e-3 only for B5-B7 and
  the V2 models); its SE squeezes to max(1, block input channels // 4) with SiLU and a sigmoid gate.
  Stochastic depth is the identity in eval mode, so it is left out.
- MobileNetV3 uses BatchNorm2d(eps=0.001) everywhere; its SE squeezes to
  _make_divisible(expanded // 4, 8) with ReLU and a hardsigmoid gate.
"""

import torch
from torch import nn


def make_divisible(value, divisor=8):
    """torchvision.models._utils._make_divisible (min_value None): round to the nearest multiple of
    divisor, at least divisor, never more than 10% below value."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_norm_activation(cin, cout, kernel=1, stride=1, groups=1, activation=None, eps=1e-5):
    layers = [nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout, eps=eps)]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels, squeeze, activation, scale_activation):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x):
        return self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x))))) * x


class MBConv(nn.Module):
    def __init__(self, expand_ratio, kernel, stride, cin, cout):
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        expanded = make_divisible(cin * expand_ratio)
        layers = []
        if expanded != cin:
            layers.append(conv_norm_activation(cin, expanded, activation=nn.SiLU))
        layers += [conv_norm_activation(expanded, expanded, kernel, stride, expanded, nn.SiLU),
                   SqueezeExcitation(expanded, max(1, cin // 4), nn.SiLU, nn.Sigmoid),
                   conv_norm_activation(expanded, cout)]
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return self.block(x) + x if self.use_res_connect else self.block(x)


class EfficientNetB0(nn.Module):
    # (expand_ratio, kernel, stride, input_channels, out_channels, num_layers): torchvision's bneck_conf
    STAGES = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
              (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]

    def __init__(self):
        super().__init__()
        layers = [conv_norm_activation(3, 32, 3, 2, activation=nn.SiLU)]
        for expand_ratio, kernel, stride, cin, cout, count in self.STAGES:
            layers.append(nn.Sequential(*[MBConv(expand_ratio, kernel, stride if i == 0 else 1, cin if i == 0 else cout,
                                                 cout) for i in range(count)]))
        layers.append(conv_norm_activation(320, 1280, activation=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class InvertedResidualV3(nn.Module):
    def __init__(self, cin, kernel, expanded, cout, use_se, activation, stride):
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        eps = 0.001
        layers = []
        if expanded != cin:
            layers.append(conv_norm_activation(cin, expanded, activation=activation, eps=eps))
        layers.append(conv_norm_activation(expanded, expanded, kernel, stride, expanded, activation, eps))
        if use_se:
            layers.append(SqueezeExcitation(expanded, make_divisible(expanded // 4), nn.ReLU, nn.Hardsigmoid))
        layers.append(conv_norm_activation(expanded, cout, eps=eps))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return self.block(x) + x if self.use_res_connect else self.block(x)


class MobileNetV3Small(nn.Module):
    # (input_channels, kernel, expanded_channels, out_channels, use_se, activation, stride): bneck_conf
    SETTING = [(16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2), (24, 3, 88, 24, False, "RE", 1),
               (24, 5, 96, 40, True, "HS", 2), (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
               (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1), (48, 5, 288, 96, True, "HS", 2),
               (96, 5, 576, 96, True, "HS", 1), (96, 5, 576, 96, True, "HS", 1)]

    def __init__(self):
        super().__init__()
        layers = [conv_norm_activation(3, 16, 3, 2, activation=nn.Hardswish, eps=0.001)]
        for cin, kernel, expanded, cout, use_se, activation, stride in self.SETTING:
            layers.append(InvertedResidualV3(cin, kernel, expanded, cout, use_se,
                                             nn.Hardswish if activation == "HS" else nn.ReLU, stride))
        layers.append(conv_norm_activation(96, 576, activation=nn.Hardswish, eps=0.001))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(576, 1024), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(1024, 1000))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


MODELS = {"efficientnet_b0": EfficientNetB0, "mobilenet_v3_small": MobileNetV3Small}
