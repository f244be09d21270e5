#!/usr/bin/env bash
# Issue 14's revisited bars on one GPU: seven recipe runs side by side, each for at most MINUTES of wall
# time, then the CPU measuring scripts on their last checkpoints.
#
#   bash benchmarks/revisit_on_gpu.sh FASHION_MNIST_ROOT RUNS_DIR [MINUTES]
#
# * ACGAN on the full Fashion-MNIST (60k/10k), 20 epochs or MINUTES: the recipe as it is; with DiffAugment
#   (translation + cutout on every D input); with class_weight 3; with R3GAN's objective (RpGAN + R1 + R2).
#   Measured by benchmarks/labels_and_encoders.py (label accuracy of 10k EMA samples, shipped classifier).
# * SRResNet-MSE x4 on the photos: the paper's size (64 channels, 16 blocks) at Adam 1e-4 (the paper's) and
#   5e-4, and the recipe's narrow net (32, 8) at its 1e-3, all on 2,000 crops per training photo.
#   Measured by benchmarks/image_to_image.py (PSNR/SSIM against bicubic on the 82 validation tiles).
# Every run logs nothing to W&B (--trainer.logger false) and keeps its checkpoints under RUNS_DIR.
# ACCELERATOR=cpu EXTRA="--trainer.max_steps 2" tries the script out on a machine without a GPU.
set -euo pipefail
root=$1
runs=$2
minutes=${3:-5}
mkdir -p "$runs"
max_time=$(printf '00:00:%02d:00' "$minutes")
export OMP_NUM_THREADS=2 PYTHONUNBUFFERED=1

fit() {  # fit NAME ARGS...: one recipe run, its output in RUNS_DIR/NAME.log
  local name=$1
  shift
  python3 -m lightning_gans fit "$@" --trainer.accelerator "${ACCELERATOR:-gpu}" --trainer.devices 1 \
    --trainer.logger false --trainer.max_time "$max_time" --trainer.default_root_dir "$runs/$name" ${EXTRA:-} \
    > "$runs/$name.log" 2>&1 \
    || echo "run $name failed: see $runs/$name.log"
}

acgan=(--config recipes/acgan_fashion_mnist.yaml --data.init_args.root "$root" --trainer.max_epochs 20)
fit acgan_full "${acgan[@]}" &
fit acgan_full_diffaugment "${acgan[@]}" --model.init_args.regularisation.augment '[translation, cutout]' &
fit acgan_full_class_weight3 "${acgan[@]}" --model.init_args.class_weight 3.0 &
fit acgan_full_rpgan_r1_r2 "${acgan[@]}" --model.init_args.loss relativistic_pairing \
  --model.init_args.regularisation.r1_gamma 0.1 --model.init_args.regularisation.r2_gamma 0.1 &

photos=(--config recipes/srresnet_photos_x4.yaml --trainer.max_epochs 1000
  --data.init_args.data.init_args.patches_per_photo 2000)
paper_size=(--model.init_args.generator.init_args.width 64 --model.init_args.generator.init_args.n_blocks 16)
fit srresnet_photos_x4_paper_lr1e-4 "${photos[@]}" "${paper_size[@]}" --model.init_args.g_optimizer.init_args.lr 1e-4 &
fit srresnet_photos_x4_paper_lr5e-4 "${photos[@]}" "${paper_size[@]}" --model.init_args.g_optimizer.init_args.lr 5e-4 &
fit srresnet_photos_x4_narrow_lr1e-3 "${photos[@]}" &
wait

python3 benchmarks/labels_and_encoders.py --runs "$runs" --out "$runs/labels_and_encoders_gpu.json"
python3 benchmarks/image_to_image.py --runs "$runs" --out "$runs/image_to_image_gpu.json"
