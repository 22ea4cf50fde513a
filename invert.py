"""Project images into a generator's latent space, edit, interpolate, compare, jitter (README.md):

python invert.py ckpt=<run>/checkpoints/last.ckpt target=cake.jpg
python invert.py mode=edit ckpt=... z=<inversion>/z.pt coords=[3,17] amounts=[-2,-1,0,1,2]
python invert.py mode=interpolate ckpt=... target=a.jpg target_b=b.jpg interp_steps=8 spherical=true
python invert.py mode=compare ckpt=<run A>/... ckpt_b=<run B>/... target=cake.jpg
python invert.py mode=jitter ckpt=... jitter.amount=0.1 [target=cake.jpg | z=<inversion>/z.pt]
"""

# The same program as `gan-lab invert`: the Hydra app lives in gan_lab.cli.main.
from gan_lab.cli.main import invert_main as main

if __name__ == "__main__":
    main()
