"""The parity suite: npref against torchref against PyTorch's built-ins, under hypothesis."""
