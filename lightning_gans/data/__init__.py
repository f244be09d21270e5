"""Lightning data modules; every one works offline except torchvision downloads the user asks for."""
