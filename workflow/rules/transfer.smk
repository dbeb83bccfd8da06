# Transfer learning (Table 4): ImageNet-1k-pretrained models fine-tuned on CIFAR-10/100,
# Flowers-102, DTD and Caltech-256 with the transfer recipe. Rules arrive with issue 7;
# table4_runs() in common.smk already lists the cells they fill.
