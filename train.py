"""Train a GAN: python train.py [group=option ...] [key=value ...]   (see README.md)

The same program as `gan-lab train`: the Hydra app lives in gan_lab.cli.main, with the configs
inside the package (src/gan_lab/conf/).
"""

from gan_lab.cli.main import train_main as main

if __name__ == "__main__":
    main()
