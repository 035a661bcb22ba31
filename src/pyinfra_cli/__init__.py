"""The pyinfra command line: the only package that prints, prompts or draws."""
