"""Built-in plugin: Stable Diffusion (1.x, 2.x, XL, turbo/LCM) from diffusers ONNX model folders."""
